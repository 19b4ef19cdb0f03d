"""System samples with psutil: CPU per core, memory, swap, free space of the data folders, network rates."""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from aiui_tui.core.monitor import DiskStats, SystemStats


class SystemSampler:
    """Blocking: call `sample()` from a thread. Rates are per second since the previous sample."""

    def __init__(self, folders: dict[str, Path]) -> None:
        self.folders = folders
        self._net: tuple[float, int, int] | None = None
        psutil.cpu_percent(percpu=True)  # the first call only starts the measurement

    def sample(self) -> SystemStats:
        per_core = tuple(psutil.cpu_percent(percpu=True))
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
