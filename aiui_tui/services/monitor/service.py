"""The system and GPU monitor: one sample per tick of the services' ticker, off the event loop, published
as events (the dashboard keeps its own history of them). NVML sits behind `GpuSampler`; GPU processes
are matched to app containers through their cgroups.
"""

from __future__ import annotations

import asyncio
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
from aiui_tui.services.ticker import Ticker

log = get_logger(__name__)


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
        ticker: Ticker | None = None,
    ) -> None:
        """`ticker`: the services' shared clock (one thread call a tick for every sampler); without
        one the monitor keeps a ticker of its own at `interval_s`."""
        self.bus = bus
        self.interval_s = interval_s
        self.ticker = ticker
        self.system = SystemSampler(folders)
        self.gpu = GpuSampler(nvml)
        self.app_of_container = app_of_container or (lambda _cid: None)
        self.proc = proc
        self.last_system: SystemStats | None = None
        self.last_gpu: GpuSample | None = None
        self._published_gpu: tuple[bool, tuple[GpuStats, ...], str, str] | None = None
        self._gpu_by_container: dict[str, int] = {}
        self._own_ticker: Ticker | None = None
        self._stop: Callable[[], None] | None = None

    async def start(self) -> None:
        """Sample every tick (the first at once) until `close`; a failing sample is logged once per
        distinct error and tried again at the next tick."""
        ticker = self.ticker
        if ticker is None:
            ticker = self._own_ticker = Ticker(self.interval_s)
        self._stop = ticker.add("monitor", self._sample, self._publish, every_s=self.interval_s, first_now=True)

    async def close(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None
        if self._own_ticker is not None:
            await self._own_ticker.close()
        self.system.close()  # waits at most for a sample in flight on the ticker's thread
        await asyncio.to_thread(self.gpu.close)

    async def sample_once(self) -> tuple[SystemStats, GpuSample]:
        system, gpu = await asyncio.to_thread(self._sample)
        self._publish((system, gpu))
        return system, gpu

    def _publish(self, sample: tuple[SystemStats, GpuSample]) -> None:
        """The system sample every tick; the GPU sample every tick while there are GPUs (the screens keep
        their history), else when it changed: "no GPU" and why reads the same every second."""
        system, gpu = sample
        self.bus.publish(SystemSample(system))
        said = (gpu.available, gpu.gpus, gpu.reason, gpu.fix)  # all but the time it was taken
        if gpu.gpus or said != self._published_gpu:
            self._published_gpu = said
            self.bus.publish(gpu)

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
