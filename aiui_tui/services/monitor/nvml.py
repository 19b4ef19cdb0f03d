"""The NVML boundary: the only module that touches `pynvml`.

Tests replace the module object (`load_nvml`) with a fake that implements the few functions used
here; everything above it is exercised for real.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    memory_total: int  # bytes
    uuid: str = ""
    compute_capability: tuple[int, int] | None = None  # (8, 9) for an RTX 4090; None when unknown


@dataclass(frozen=True)
class GpuProbe:
    """What NVML says about this machine; `available` False carries the reason and the fix."""

    available: bool
    reason: str = ""
    fix: str = ""
    driver_version: str = ""
    gpus: list[GpuInfo] = field(default_factory=list)


def load_nvml() -> ModuleType:
    import pynvml

    module: ModuleType = pynvml  # no stubs: Any to the type checker
    return module


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _is(exc: Exception, nvml: Any, name: str) -> bool:
    cls = getattr(nvml, name, None)
    return isinstance(cls, type) and isinstance(exc, cls)


def unavailable_reason(nvml: Any, exc: Exception) -> tuple[str, str]:
    """A one-line reason and fix for an NVML failure."""
    if _is(exc, nvml, "NVMLError_LibraryNotFound"):
        return (
            "no NVIDIA driver found (libnvidia-ml.so is missing)",
            "install the NVIDIA driver for your GPU; without one, apps run on the CPU (very slow)",
        )
    if _is(exc, nvml, "NVMLError_DriverNotLoaded"):
        return ("the NVIDIA driver is installed but not loaded", "reboot, or run `sudo modprobe nvidia`")
    return (f"NVML failed: {_text(exc)}", "check `nvidia-smi`; after a driver update, reboot")


def _compute_capability(nvml: Any, handle: Any) -> tuple[int, int] | None:
    try:
        major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
        return int(major), int(minor)
    except Exception:  # old drivers and bindings lack it: the recommendation then uses VRAM only
        return None


def probe_gpus(nvml: Any = None) -> GpuProbe:
    """Initialise NVML once and list the GPUs. Blocking: run it in a thread."""
    try:
        nvml = nvml or load_nvml()
    except ImportError:
        return GpuProbe(False, "the NVML bindings are not installed", "pip install nvidia-ml-py")
    try:
        nvml.nvmlInit()
    except Exception as exc:
        reason, fix = unavailable_reason(nvml, exc)
        return GpuProbe(False, reason, fix)
    try:
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        gpus = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            gpus.append(
                GpuInfo(
                    index,
                    _text(nvml.nvmlDeviceGetName(handle)),
                    int(memory.total),
                    _text(nvml.nvmlDeviceGetUUID(handle)),
                    _compute_capability(nvml, handle),
                )
            )
        return GpuProbe(True, driver_version=driver, gpus=gpus)
    except Exception as exc:
        reason, fix = unavailable_reason(nvml, exc)
        return GpuProbe(False, reason, fix)
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:
            pass
