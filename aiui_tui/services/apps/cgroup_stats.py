"""Container figures for all watched containers in one look per tick: the cgroup files of each read in
one worker-thread call (see cgroup_files.py for what is read and how it matches `docker stats`)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass

from aiui_tui.core.events import ContainerStats
from aiui_tui.services.apps.cgroup_files import CgroupFiles, OpenFiles, Reading, cpu_percent, host_memory
from aiui_tui.services.ticker import Ticker

POLL_S = 1.0


# --- the poll -------------------------------------------------------------------------------


@dataclass
class _Watched:
    name: str
    files: OpenFiles  # kept open while watched: closed when the container is no longer watched
    stop: threading.Event
    last: Reading | None = None


class CgroupPoll:
    """All watched containers read in one look per tick of the services' ticker (one worker-thread call
    a tick, shared with the monitor); without a ticker, one of its own at `interval_s`."""

    def __init__(
        self,
        publish: Callable[[ContainerStats], None],
        gpu_memory: Callable[[str], int | None] = lambda _cid: None,
        interval_s: float = POLL_S,
        ticker: Ticker | None = None,
    ) -> None:
        self.publish = publish
        self.gpu_memory = gpu_memory
        self.interval_s = interval_s
        self.ticker = ticker
        self.host_total = host_memory()
        self._watched: dict[str, _Watched] = {}
        # What the next look reads: replaced (never changed) on the loop, read on the ticker's thread.
        self._reading: tuple[tuple[str, _Watched], ...] = ()
        self._own_ticker: Ticker | None = None
        self._stop: Callable[[], None] | None = None
        self.ticks = 0

    def watching(self, container_id: str) -> bool:
        return container_id in self._watched

    def add(self, name: str, container_id: str, files: CgroupFiles, stop: threading.Event) -> None:
        """Watch a container until `stop` is set, its cgroup goes away, or `remove`. Call on the loop."""
        old = self._watched.get(container_id)
        self._watched[container_id] = _Watched(name, OpenFiles(files), stop)
        if old is not None:
            old.files.close()
        self._changed()
        if self._stop is None:
            ticker = self.ticker
            if ticker is None:
                ticker = self._own_ticker = self._own_ticker or Ticker(self.interval_s)
            self._stop = ticker.add("container stats", self._look, self._deliver, every_s=self.interval_s)

    def remove(self, container_id: str) -> None:
        watched = self._watched.pop(container_id, None)
        if watched is not None:
            watched.files.close()
            self._changed()

    def _changed(self) -> None:
        self._reading = tuple(self._watched.items())
        if not self._watched and self._stop is not None:  # nothing to read: off the ticker
            self._stop()
            self._stop = None

    async def close(self) -> None:
        for watched in self._watched.values():
            watched.files.close()
        self._watched.clear()
        self._changed()
        if self._own_ticker is not None:
            await self._own_ticker.close()
            self._own_ticker = None

    async def poll_once(self) -> list[ContainerStats]:
        """One look now, off the ticker (tests, `aiui-tui stats`)."""
        return self._deliver(await asyncio.to_thread(self._look))

    def _look(self) -> tuple[tuple[tuple[str, _Watched], ...], dict[str, Reading | None]]:
        """On the ticker's thread: every watched container's files."""
        watched = tuple((cid, w) for cid, w in self._reading if not w.stop.is_set())
        return watched, self._read_all(list(watched))

    def _deliver(
        self, looked: tuple[tuple[tuple[str, _Watched], ...], dict[str, Reading | None]]
    ) -> list[ContainerStats]:
        watched, readings = looked
        self.ticks += 1
        stopped = [cid for cid, w in self._watched.items() if w.stop.is_set()]
        for cid in stopped:
            self._watched.pop(cid).files.close()
        samples = []
        for cid, w in watched:
            reading = readings.get(cid)
            if self._watched.get(cid) is not w:
                continue  # removed (or replaced) while the files were read
            if reading is None:
                del self._watched[cid]  # its cgroup is gone: the container stopped
                w.files.close()
                stopped.append(cid)
                continue
            percent, w.last = cpu_percent(w.last, reading), reading
            sample = ContainerStats(
                name=w.name,
                container_id=cid,
                cpu_percent=percent,
                memory_used=reading.memory_used,
                memory_limit=reading.memory_limit,
                net_rx=reading.net_rx,
                net_tx=reading.net_tx,
                block_read=reading.block_read,
                block_write=reading.block_write,
                gpu_memory=self.gpu_memory(cid),
            )
            samples.append(sample)
            self.publish(sample)
        if stopped:
            self._changed()
        return samples

    def _read_all(self, watched: list[tuple[str, _Watched]]) -> dict[str, Reading | None]:
        readings: dict[str, Reading | None] = {}
        for cid, w in watched:
            try:
                readings[cid] = w.files.read(self.host_total)
            except (OSError, ValueError):
                readings[cid] = None
        return readings
