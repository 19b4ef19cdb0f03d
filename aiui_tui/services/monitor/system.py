"""System samples: CPU per core, memory, swap, free space of the data folders, network rates.

On Linux the kernel's files are kept open and read again each sample (procfs.py: a tenth of psutil's
cost); where they cannot be read so, psutil (imported only then). The figures are the same either way.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from aiui_tui.core.monitor import DiskStats, SystemStats
from aiui_tui.services.monitor.procfs import KernelFiles

CpuReading = tuple[tuple[float, float], ...]  # (all time, idle time) of each CPU, in one unit


class SystemSampler:
    """Blocking: call `sample()` from a thread. Rates are per second since the previous sample.
    `close()` (from any thread) closes the kernel files kept open."""

    def __init__(self, folders: dict[str, Path], proc: str = "/proc") -> None:
        self.folders = folders
        self._net: tuple[float, int, int] | None = None
        self._kernel = KernelFiles.open(proc)
        # CPU use is measured between two samples. psutil.cpu_percent() keeps its previous reading per
        # thread, and samples run on whichever worker thread is free: it read 0.0% under load. Ours is kept here.
        self._cpu: CpuReading = self._read()[0]

    @property
    def reads_kernel_files(self) -> bool:
        """True: the kernel's files kept open; False: psutil."""
        return self._kernel is not None

    def close(self) -> None:
        if self._kernel is not None:
            self._kernel.close()

    def sample(self) -> SystemStats:
        cpu, (memory_total, memory_available, swap_total, swap_free), net = self._read()
        # A core brought online meanwhile has no earlier reading: it is left out of this sample.
        per_core = tuple(busy_percent(a, b) for a, b in zip(self._cpu, cpu, strict=False))
        self._cpu = cpu
        disks = []
        for label, folder in self.folders.items():
            try:
                st = os.statvfs(folder)  # psutil.disk_usage's free and total
            except OSError:
                continue
            disks.append(DiskStats(label, str(folder), st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize))
        now = time.monotonic()
        rx_rate = tx_rate = 0.0
        if net is not None:
            if self._net is not None:
                then, rx, tx = self._net
                elapsed = max(now - then, 1e-6)
                rx_rate = max(0, net[0] - rx) / elapsed
                tx_rate = max(0, net[1] - tx) / elapsed
            self._net = (now, net[0], net[1])
        return SystemStats(
            cpu_percent=round(sum(per_core) / len(per_core), 1) if per_core else 0.0,
            cpu_per_core=per_core,
            memory_used=memory_total - memory_available,
            memory_total=memory_total,
            swap_used=swap_total - swap_free,
            swap_total=swap_total,
            disks=tuple(disks),
            net_rx_rate=rx_rate,
            net_tx_rate=tx_rate,
        )

    def _read(self) -> tuple[CpuReading, tuple[int, int, int, int], tuple[int, int] | None]:
        """CPU times, (memory total, available, swap total, free), network (received, sent) bytes."""
        if self._kernel is None:
            return _psutil_read()
        cores, (total, free, available, swap_total, swap_free), net = self._kernel.read()
        if total is None or free is None or not available:  # no MemAvailable (before Linux 3.14): psutil estimates
            memory = _psutil().virtual_memory()
            total, available = memory.total, memory.available
        elif available > total:  # as psutil (and `free`) do in a container whose figures are distorted
            available = free
        if swap_total is None or swap_free is None:
            swap = _psutil().swap_memory()
            swap_total, swap_free = swap.total, swap.free
        return cores, (total, available, swap_total, swap_free), net


def _psutil() -> Any:
    import psutil

    return psutil


def _psutil_read() -> tuple[CpuReading, tuple[int, int, int, int], tuple[int, int] | None]:
    psutil = _psutil()
    cores = tuple(cpu_split(t) for t in psutil.cpu_times(percpu=True))
    memory, swap = psutil.virtual_memory(), psutil.swap_memory()
    counters = psutil.net_io_counters()
    net = (counters.bytes_recv, counters.bytes_sent) if counters is not None else None
    return cores, (memory.total, memory.available, swap.total, swap.free), net


def cpu_split(t: Any) -> tuple[float, float]:
    """A `psutil.cpu_times()` reading as (all time, idle time): Linux counts guest time inside user time
    as well (once is enough); idle includes iowait."""
    total = float(sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0))
    return total, float(t.idle + getattr(t, "iowait", 0.0))


def busy_percent(before: tuple[float, float], after: tuple[float, float]) -> float:
    """The share of time a CPU was busy between two (all time, idle time) readings, in percent."""
    elapsed = after[0] - before[0]
    if elapsed <= 0:
        return 0.0
    busy = elapsed - (after[1] - before[1])
    return round(min(100.0, max(0.0, 100.0 * busy / elapsed)), 1)
