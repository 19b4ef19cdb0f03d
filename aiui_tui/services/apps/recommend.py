"""A performance profile and options for this machine's GPUs, with the reasons, for people to read.

Pure: it gets the GPUs (services.monitor.nvml.GpuInfo) and the app's manifest, and only names
choices the manifest has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiui_tui.services.apps.manifest import AppManifest

GIB = 1024**3


@dataclass(frozen=True)
class Recommendation:
    profile: str
    options: dict[str, str] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()

    def why(self) -> str:
        return "; ".join(self.reasons)


def recommend(gpus: Sequence[Any], manifest: AppManifest | None = None) -> Recommendation:
    if not gpus:
        return Recommendation("cpu", {}, ("no NVIDIA GPU found: apps run on the CPU (minutes per image)",))
    gpu = max(gpus, key=lambda g: g.memory_total or 0)
    gib = (gpu.memory_total or 0) / GIB
    reasons = []
    if gib < 7:
        profile = "low"
        reasons.append(f"{gpu.name} has {gib:.0f} GiB VRAM: low profile, models move to system RAM between steps")
    elif gib < 15:
        profile = "normal"
        reasons.append(f"{gpu.name} has {gib:.0f} GiB VRAM: normal profile, SDXL fits, Flux needs fp8/NF4")
    else:
        profile = "high"
        reasons.append(f"{gpu.name} has {gib:.0f} GiB VRAM: high profile, models stay in VRAM")
    wanted: dict[str, list[str]] = {}
    cc = getattr(gpu, "compute_capability", None)  # the TUI's GPU samples may not carry it
    if cc is None:
        reasons.append("compute capability not known: precision left at the app's default")
    elif cc >= (8, 0):
        wanted["precision"] = ["bf16", "fp16"]
        reasons.append(f"compute capability {cc[0]}.{cc[1]} (Ampere or newer): bf16 and fast SDP attention")
    elif cc >= (7, 0):
        wanted["precision"] = ["fp16"]
        reasons.append(f"compute capability {cc[0]}.{cc[1]} (Volta/Turing): fp16 with tensor cores")
    else:
        wanted["precision"] = ["fp32"]
        reasons.append(
            f"compute capability {cc[0]}.{cc[1]} (Pascal or older): fp16 is slow there and can give black images"
        )
    wanted["attention"] = ["sdp"]
    if gib >= 40:
        wanted["model_cache"] = ["2", "keep", "lru"]
        reasons.append("40 GiB or more: two checkpoints kept loaded, switching models is instant")
    if len(gpus) > 1:
        reasons.append(f"{len(gpus)} GPUs: `aiui-tui app start NAME --all-gpus` runs one instance on each")
    options = {}
    if manifest is not None:
        for name, preferences in wanted.items():
            option = manifest.performance.options.get(name)
            chosen = next((v for v in preferences if option is not None and v in option.choices), None)
            if chosen is not None:
                options[name] = chosen
    return Recommendation(profile, options, tuple(reasons))
