"""A stand-in for the `pynvml` module, for machines without an NVIDIA GPU (CI, laptops).

It implements only the functions aiui-tui calls, with NVML's own error classes and codes, so the
code above the boundary runs unchanged. Fields a GPU does not support raise NotSupported, as an
H100's fan does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_GPU_IS_LOST = 15
NVML_TEMPERATURE_GPU = 0


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return {3: "Not Supported", 12: "NVML Shared Library Not Found", 15: "GPU is lost"}.get(
            self.value, "Unknown Error"
        )


class NVMLError_NotSupported(NVMLError):
    def __init__(self) -> None:
        super().__init__(NVML_ERROR_NOT_SUPPORTED)


class NVMLError_LibraryNotFound(NVMLError):
    def __init__(self) -> None:
        super().__init__(NVML_ERROR_LIBRARY_NOT_FOUND)


class NVMLError_DriverNotLoaded(NVMLError):
    def __init__(self) -> None:
        super().__init__(9)


class NVMLError_GpuIsLost(NVMLError):
    def __init__(self) -> None:
        super().__init__(NVML_ERROR_GPU_IS_LOST)


@dataclass
class FakeGpu:
    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    memory_total: int = 80 * 1024**3
    memory_used: int = 1024**3
    utilization: int = 0
    temperature: int = 35
    power_mw: int | None = 70_000
    power_limit_mw: int | None = 700_000
    fan: int | None = None  # None: not supported (an H100 has no fan reading)
    processes: list[tuple[int, int]] = field(default_factory=list)  # (pid, used bytes)
    lost: bool = False
    compute_capability: tuple[int, int] = (9, 0)


class FakeNvml:
    """Use as the `nvml` module: `FakeNvml([FakeGpu()])`, or `FakeNvml(library_missing=True)`."""

    NVMLError = NVMLError
    NVMLError_NotSupported = NVMLError_NotSupported
    NVMLError_LibraryNotFound = NVMLError_LibraryNotFound
    NVMLError_DriverNotLoaded = NVMLError_DriverNotLoaded
    NVMLError_GpuIsLost = NVMLError_GpuIsLost
    NVML_TEMPERATURE_GPU = NVML_TEMPERATURE_GPU
    NVML_ERROR_NOT_SUPPORTED = NVML_ERROR_NOT_SUPPORTED

    def __init__(
        self, gpus: list[FakeGpu] | None = None, *, library_missing: bool = False, driver: str = "550.54.15"
    ) -> None:
        self.gpus = gpus if gpus is not None else []
        self.library_missing = library_missing
        self.driver = driver
        self.init_calls = 0
        self.initialized = False

    # -- lifecycle
    def nvmlInit(self) -> None:
        self.init_calls += 1
        if self.library_missing:
            raise NVMLError_LibraryNotFound()
        self.initialized = True

    def nvmlShutdown(self) -> None:
        self.initialized = False

    def _check(self) -> None:
        if not self.initialized:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)

    def _gpu(self, handle: int) -> FakeGpu:
        self._check()
        gpu = self.gpus[handle]
        if gpu.lost:
            raise NVMLError_GpuIsLost()
        return gpu

    # -- system
    def nvmlSystemGetDriverVersion(self) -> str:
        self._check()
        return self.driver

    def nvmlDeviceGetCount(self) -> int:
        self._check()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        self._check()
        if index >= len(self.gpus):
            raise NVMLError(2)
        return index

    # -- device
    def nvmlDeviceGetName(self, h: int) -> str:
        return self._gpu(h).name

    def nvmlDeviceGetCudaComputeCapability(self, h: int) -> tuple[int, int]:
        return self._gpu(h).compute_capability

    def nvmlDeviceGetUUID(self, h: int) -> str:
        return self._gpu(h).uuid

    def nvmlDeviceGetMemoryInfo(self, h: int):
        g = self._gpu(h)
        return SimpleNamespace(total=g.memory_total, used=g.memory_used, free=g.memory_total - g.memory_used)

    def nvmlDeviceGetUtilizationRates(self, h: int):
        g = self._gpu(h)
        return SimpleNamespace(gpu=g.utilization, memory=0)

    def nvmlDeviceGetTemperature(self, h: int, sensor: int) -> int:
        return self._gpu(h).temperature

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:
        g = self._gpu(h)
        if g.power_mw is None:
            raise NVMLError_NotSupported()
        return g.power_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, h: int) -> int:
        g = self._gpu(h)
        if g.power_limit_mw is None:
            raise NVMLError_NotSupported()
        return g.power_limit_mw

    def nvmlDeviceGetFanSpeed(self, h: int) -> int:
        g = self._gpu(h)
        if g.fan is None:
            raise NVMLError_NotSupported()
        return g.fan

    def nvmlDeviceGetComputeRunningProcesses(self, h: int):
        g = self._gpu(h)
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in g.processes]

    def nvmlDeviceGetGraphicsRunningProcesses(self, h: int):
        self._gpu(h)
        return []
