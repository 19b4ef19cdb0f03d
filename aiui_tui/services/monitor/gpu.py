"""GPU samples through the NVML boundary: initialised once, never retried every tick.

No driver (this machine, CI, a laptop): one clear "no NVIDIA GPU" state, checked again only every
few minutes. A GPU that vanishes (NVML "GPU is lost", e.g. after `systemctl daemon-reload` under a
running container) is reported with its fix instead of raising on every tick.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aiui_tui.core.monitor import GpuProcess, GpuStats
from aiui_tui.logs import get_logger
from aiui_tui.services.monitor.nvml import load_nvml, unavailable_reason

T = TypeVar("T")

log = get_logger(__name__)
RETRY_INIT_S = 300.0
LOST_FIX = "restart the container using it; if nvidia-smi fails too, reload the driver or reboot"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class GpuSampler:
    """Blocking: call from a thread. `sample()` returns (available, gpus, reason, fix)."""

    def __init__(self, nvml: Any = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._nvml = nvml
        self._clock = clock
        self._ready = False
        self._next_try = 0.0
        self.reason = ""
        self.fix = ""
        self.init_attempts = 0

    def _init(self) -> bool:
        if self._ready:
            return True
        now = self._clock()
        if now < self._next_try:
            return False
        self._next_try = now + RETRY_INIT_S
        self.init_attempts += 1
        try:
            self._nvml = self._nvml or load_nvml()
        except ImportError:
            self.reason, self.fix = "the NVML bindings are not installed", "pip install nvidia-ml-py"
            return False
        try:
            self._nvml.nvmlInit()
        except Exception as exc:
            self.reason, self.fix = unavailable_reason(self._nvml, exc)
            log.info("no NVIDIA GPU", reason=self.reason)
            return False
        self._ready = True
        self.reason = self.fix = ""
        return True

    def memory_total_max(self) -> int | None:
        """The largest GPU's memory (for the `auto` profile), or None without a GPU."""
        available, gpus, _, _ = self.sample()
        sizes = [g.memory_total for g in gpus if g.memory_total]
        return max(sizes) if available and sizes else None

    def sample(self) -> tuple[bool, tuple[GpuStats, ...], str, str]:
        if not self._init():
            return False, (), self.reason, self.fix
        nvml = self._nvml
        try:
            count = nvml.nvmlDeviceGetCount()
        except Exception as exc:
            self._ready = False
            self.reason, self.fix = unavailable_reason(nvml, exc)
            return False, (), self.reason, self.fix
        gpus = tuple(self._one(index) for index in range(count))
        lost = [g for g in gpus if g.lost]
        if lost and len(lost) == len(gpus):
            return False, gpus, f"GPU {lost[0].index} is lost (NVML)", LOST_FIX
        return True, gpus, "", ""

    def _one(self, index: int) -> GpuStats:
        nvml = self._nvml
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = _text(nvml.nvmlDeviceGetName(handle))
            uuid = _text(nvml.nvmlDeviceGetUUID(handle))
        except Exception as exc:
            log.warning("gpu lost", index=index, reason=str(exc))
            return GpuStats(index, "unavailable", "", None, None, None, None, None, None, None, lost=True)
        memory = self._field(lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
        utilization = self._field(lambda: nvml.nvmlDeviceGetUtilizationRates(handle))
        power = self._field(lambda: nvml.nvmlDeviceGetPowerUsage(handle))
        limit = self._field(lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(handle))
        processes = []
        for getter in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
            for proc in self._field(functools.partial(getattr(nvml, getter), handle)) or []:
                used = getattr(proc, "usedGpuMemory", None)
                processes.append(GpuProcess(int(proc.pid), int(used) if isinstance(used, int) else None))
        return GpuStats(
            index=index,
            name=name,
            uuid=uuid,
            utilization=int(utilization.gpu) if utilization is not None else None,
            memory_used=int(memory.used) if memory is not None else None,
            memory_total=int(memory.total) if memory is not None else None,
            temperature=self._field(lambda: int(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))),
            power_w=power / 1000 if power is not None else None,
            power_limit_w=limit / 1000 if limit is not None else None,
            fan_percent=self._field(lambda: int(nvml.nvmlDeviceGetFanSpeed(handle))),
            processes=tuple(_dedupe(processes)),
        )

    @staticmethod
    def _field(read: Callable[[], T]) -> T | None:
        """A reading, or None when this GPU does not support it (an H100 has no fan)."""
        try:
            return read()
        except Exception:
            return None

    def close(self) -> None:
        if self._ready:
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass
            self._ready = False


def _dedupe(processes: list[GpuProcess]) -> list[GpuProcess]:
    seen: dict[int, GpuProcess] = {}
    for proc in processes:
        if proc.pid not in seen or (seen[proc.pid].used_memory is None and proc.used_memory is not None):
            seen[proc.pid] = proc
    return list(seen.values())
