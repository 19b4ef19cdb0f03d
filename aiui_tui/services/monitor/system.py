"""System samples with psutil: CPU per core, memory, swap, free space of the data folders, network rates."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psutil

from aiui_tui.core.monitor import DiskStats, SystemStats


class SystemSampler:
    """Blocking: call `sample()` from a thread. Rates are per second since the previous sample."""

    def __init__(self, folders: dict[str, Path]) -> None:
        self.folders = folders
        self._net: tuple[float, int, int] | None = None
        # CPU use is measured between two samples. psutil.cpu_percent() keeps its previous reading per
        # thread, and samples run on whichever worker thread is free: it read 0.0% under load. Ours is kept here.
        self._cpu_times = psutil.cpu_times(percpu=True)

    def sample(self) -> SystemStats:
        now_times = psutil.cpu_times(percpu=True)
        # A core brought online meanwhile has no earlier reading: it is left out of this sample.
        per_core = tuple(busy_percent(a, b) for a, b in zip(self._cpu_times, now_times, strict=False))
        self._cpu_times = now_times
        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        disks = []
        for label, folder in self.folders.items():
            try:
                usage = psutil.disk_usage(str(folder))
            except OSError:
                continue
            disks.append(DiskStats(label, str(folder), usage.free, usage.total))
        counters = psutil.net_io_counters()
        now = time.monotonic()
        rx_rate = tx_rate = 0.0
        if counters is not None:
            if self._net is not None:
                then, rx, tx = self._net
                elapsed = max(now - then, 1e-6)
                rx_rate = max(0, counters.bytes_recv - rx) / elapsed
                tx_rate = max(0, counters.bytes_sent - tx) / elapsed
            self._net = (now, counters.bytes_recv, counters.bytes_sent)
        return SystemStats(
            cpu_percent=round(sum(per_core) / len(per_core), 1) if per_core else 0.0,
            cpu_per_core=per_core,
            memory_used=memory.total - memory.available,
            memory_total=memory.total,
            swap_used=swap.used,
            swap_total=swap.total,
            disks=tuple(disks),
            net_rx_rate=rx_rate,
            net_tx_rate=tx_rate,
        )


def busy_percent(before: Any, after: Any) -> float:
    """The share of time a CPU was busy between two `psutil.cpu_times()` readings, in percent."""

    def total(t: Any) -> float:
        # Linux counts guest time inside user time as well: once is enough.
        return float(sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0))

    def idle(t: Any) -> float:
        return float(t.idle + getattr(t, "iowait", 0.0))

    elapsed = total(after) - total(before)
    if elapsed <= 0:
        return 0.0
    busy = elapsed - (idle(after) - idle(before))
    return round(min(100.0, max(0.0, 100.0 * busy / elapsed)), 1)
