"""System and GPU samples: plain data for the monitor panels and `aiui-tui stats`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DiskStats:
    label: str  # "models", "outputs"
    path: str
    free: int
    total: int


@dataclass(frozen=True)
class SystemStats:
    cpu_percent: float
    cpu_per_core: tuple[float, ...]
    memory_used: int
    memory_total: int
    swap_used: int
    swap_total: int
    disks: tuple[DiskStats, ...]
    net_rx_rate: float  # bytes/s since the previous sample
    net_tx_rate: float


@dataclass(frozen=True)
class GpuProcess:
    pid: int
    used_memory: int | None
    app: str | None = None  # the app whose container runs this process


@dataclass(frozen=True)
class GpuStats:
    """One GPU; a field is None when the GPU does not report it (an H100 has no fan reading)."""

    index: int
    name: str
    uuid: str
    utilization: int | None
    memory_used: int | None
    memory_total: int | None
    temperature: int | None
    power_w: float | None
    power_limit_w: float | None
    fan_percent: int | None
    processes: tuple[GpuProcess, ...] = ()
    lost: bool = False
