"""What a model file is, judged from its name and header, never by loading or unpickling it.

Architecture rules follow the tensor names ComfyUI's model detection uses (see the domain notes).
Pickle formats (.ckpt, .pt, .pth, .bin) are only flagged: unpickling one can run arbitrary code.
Blocking: call from a thread.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from aiui_tui.services.library.safetensors import Header, SafetensorsError, read_header

PICKLE_SUFFIXES = {".ckpt", ".pt", ".pth", ".bin", ".pkl"}
MODEL_SUFFIXES = PICKLE_SUFFIXES | {".safetensors", ".sft", ".gguf", ".onnx", ".patch"}

# Architecture labels, shown in lists and matched against catalog entries.
SD15, SD15_INPAINT, SD2, SDXL, SDXL_REFINER, SD3, FLUX_DEV, FLUX_SCHNELL = (
    "sd15", "sd15-inpaint", "sd2", "sdxl", "sdxl-refiner", "sd3", "flux-dev", "flux-schnell",
)  # fmt: skip
LORA, VAE, EMBEDDING, UNKNOWN = "lora", "vae", "embedding", "unknown"

_LORA_BASE = {"sdxl": SDXL, "sd_v1": SD15, "sd_v2": SD2, "sd3": SD3, "flux": "flux"}


@dataclass(frozen=True)
class FileCheck:
    format: str  # safetensors, pickle, zip-pickle, gguf, other
    architecture: str = UNKNOWN
    executable: bool = False  # can run code when loaded (pickle)
    ok: bool = True
    problem: str = ""
    tensors: int = 0

    @property
    def warning(self) -> str:
        if not self.ok:
            return self.problem
        if self.executable:
            return "pickle format: loading it can run code; prefer a .safetensors version"
        return ""


def check_file(path: Path, size: int | None = None) -> FileCheck:
    suffix = path.suffix.lower()
    if suffix in (".safetensors", ".sft"):
        try:
            header = read_header(path, size)
        except SafetensorsError as exc:
            return FileCheck("safetensors", ok=False, problem=str(exc))
        except OSError as exc:
            return FileCheck("safetensors", ok=False, problem=f"cannot read: {exc.strerror}")
        return FileCheck("safetensors", architecture=detect_architecture(header), tensors=len(header.tensors))
    if suffix in PICKLE_SUFFIXES:
        fmt = "zip-pickle" if _is_zip(path) else "pickle"
        return FileCheck(fmt, executable=True)
    if suffix == ".gguf":
        return FileCheck("gguf")
    return FileCheck("other")


def _is_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def detect_architecture(header: Header) -> str:
    keys = header.tensors
    meta = header.metadata

    def has(name: str) -> bool:
        return name in keys or f"model.diffusion_model.{name}" in keys

    if any(k.startswith(("lora_unet_", "lora_te")) or ".lora_up." in k or ".lora_A." in k for k in keys):
        base = meta.get("ss_base_model_version", "")
        family = next((arch for prefix, arch in _LORA_BASE.items() if base.startswith(prefix)), "")
        return f"{LORA}-{family}" if family else LORA
    if has("double_blocks.0.img_attn.norm.key_norm.scale"):
        return FLUX_DEV if has("guidance_in.in_layer.weight") else FLUX_SCHNELL
    if has("joint_blocks.0.context_block.attn.qkv.weight"):
        return SD3
    if "conditioner.embedders.1.model.ln_final.weight" in keys:
        return SDXL
    if any(k.startswith("conditioner.embedders.0.model.") for k in keys):
        return SDXL_REFINER
    if any(k.startswith("cond_stage_model.model.transformer.resblocks") for k in keys):
        return SD2
    if any(k.startswith("cond_stage_model.transformer.") for k in keys):
        conv_in = keys.get("model.diffusion_model.input_blocks.0.0.weight", {})
        shape = conv_in.get("shape") or [0, 0]
        return SD15_INPAINT if len(shape) > 1 and shape[1] == 9 else SD15
    if "encoder.conv_in.weight" in keys and "decoder.conv_out.weight" in keys:
        return VAE
    if "emb_params" in keys or ({"clip_l", "clip_g"} & set(keys)):
        return EMBEDDING
    return UNKNOWN


def architecture_family(arch: str) -> str:
    """sdxl-refiner -> sdxl, lora-sd15 -> sd15, flux-dev -> flux: for matching apps and catalog entries."""
    if arch.startswith(LORA + "-"):
        arch = arch[len(LORA) + 1 :]
    return arch.split("-")[0]
