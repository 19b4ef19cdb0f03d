"""The system and GPU monitor: one sample per interval, off the event loop, published as events.

History rings (the last `HISTORY` samples) feed the dashboard's sparklines. NVML sits behind
`GpuSampler`; GPU processes are matched to app containers through their cgroups.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiui_tui.bus import Bus
from aiui_tui.core.events import GpuSample, SystemSample
from aiui_tui.core.monitor import GpuStats, SystemStats
from aiui_tui.logs import get_logger
from aiui_tui.services.monitor.cgroups import container_of_pid
from aiui_tui.services.monitor.gpu import GpuSampler
from aiui_tui.services.monitor.system import SystemSampler

log = get_logger(__name__)
HISTORY = 120


class MonitorService:
    def __init__(
        self,
        bus: Bus,
        folders: dict[str, Path],
        *,
        interval_s: float = 1.0,
        nvml: Any = None,
        app_of_container: Callable[[str], str | None] | None = None,
        proc: Path = Path("/proc"),
    ) -> None:
        self.bus = bus
        self.interval_s = interval_s
        self.system = SystemSampler(folders)
        self.gpu = GpuSampler(nvml)
        self.app_of_container = app_of_container or (lambda _cid: None)
        self.proc = proc
        self.last_system: SystemStats | None = None
        self.last_gpu: GpuSample | None = None
        self.cpu_history: deque[float] = deque(maxlen=HISTORY)
        self.memory_history: deque[float] = deque(maxlen=HISTORY)
        self.gpu_history: dict[int, deque[float]] = {}
        self.vram_history: dict[int, deque[float]] = {}
        self._gpu_by_container: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="monitor")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.to_thread(self.gpu.close)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            with contextlib.suppress(Exception):
                await self.sample_once()
            await asyncio.sleep(max(0.0, self.interval_s - (loop.time() - started)))

    async def sample_once(self) -> tuple[SystemStats, GpuSample]:
        system, gpu = await asyncio.to_thread(self._sample)
        self.bus.publish(SystemSample(system))
        self.bus.publish(gpu)
        return system, gpu

    def gpu_memory_of_container(self, container_id: str) -> int | None:
        return self._gpu_by_container.get(container_id)

    def largest_gpu_memory(self) -> int | None:
        return self.gpu.memory_total_max()

    def _sample(self) -> tuple[SystemStats, GpuSample]:
        system = self.system.sample()
        available, gpus, reason, fix = self.gpu.sample()
        by_container: dict[str, int] = {}
        gpus = tuple(self._with_apps(g, by_container) for g in gpus)
        self._gpu_by_container = by_container
        sample = GpuSample(available, gpus, reason, fix)
        self.last_system, self.last_gpu = system, sample
        self.cpu_history.append(system.cpu_percent)
        self.memory_history.append(100.0 * system.memory_used / system.memory_total if system.memory_total else 0.0)
        for g in gpus:
            self.gpu_history.setdefault(g.index, deque(maxlen=HISTORY)).append(float(g.utilization or 0))
            if g.memory_total:
                ring = self.vram_history.setdefault(g.index, deque(maxlen=HISTORY))
                ring.append(100.0 * (g.memory_used or 0) / g.memory_total)
        return system, sample

    def _with_apps(self, gpu: GpuStats, by_container: dict[str, int]) -> GpuStats:
        """Name the app behind each GPU process and total GPU memory per container."""
        if not gpu.processes:
            return gpu
        procs = []
        for process in gpu.processes:
            container = container_of_pid(process.pid, self.proc)
            app = self.app_of_container(container) if container else None
            if container and process.used_memory is not None:
                by_container[container] = by_container.get(container, 0) + process.used_memory
            procs.append(replace(process, app=app))
        return replace(gpu, processes=tuple(procs))
