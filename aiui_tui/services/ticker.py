"""One clock for the services' periodic looks: one task, one worker-thread call per tick.

The monitor (system and GPU), the containers' cgroup figures, the download queue's look for other
processes' changes and the folder watches each need a blocking look every second or two. Each on a
task and a thread call of its own, they woke an idle dashboard's event loop ~10 times a second; on
one ticker they share one timer and one `asyncio.to_thread` per tick: the thread runs every due look
in turn, then each result is handed to its callback on the loop.

A look is blocking and runs on the ticker's thread (never two of the same job at once); a callback
runs on the loop and must be quick (start a task for slow work). A look or callback that raises is
logged once per distinct error and tried again at its next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiui_tui.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")


@dataclass(eq=False)
class Job:
    name: str
    look: Callable[[], Any]  # blocking: on the ticker's thread
    deliver: Callable[[Any], object]  # on the loop, with the look's result
    every: int = 1  # ticks between two looks
    first_now: bool = False  # look at the next wake-up, not a whole interval later
    removed: bool = False
    last_error: str | None = field(default=None, repr=False)


class Ticker:
    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self.ticks = 0
        self.thread_calls = 0  # worker-thread calls made (one per tick that had something due)
        self._jobs: list[Job] = []
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Future[None] | None = None
        self._looking = asyncio.Lock()  # one look of a job at a time (the ticks and `tick_now`)

    def add(
        self,
        name: str,
        look: Callable[[], T],
        deliver: Callable[[T], object],
        *,
        every_s: float | None = None,
        first_now: bool = False,
    ) -> Callable[[], None]:
        """Look every `every_s` (rounded to whole ticks; default every tick) until the returned
        function is called. `first_now`: the first look comes at once. Call on the loop."""
        every = max(1, round(every_s / self.interval_s)) if every_s else 1
        job = Job(name, look, deliver, every, first_now)
        self._jobs.append(job)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ticker")
        elif first_now:
            self._poke()
        return lambda: self._remove(job)

    def _remove(self, job: Job) -> None:
        job.removed = True
        with contextlib.suppress(ValueError):
            self._jobs.remove(job)

    def _poke(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def tick_now(self) -> None:
        """Look at every job now, off the clock, and deliver the results (tests, a manual refresh)."""
        await self._look(list(self._jobs))

    async def close(self) -> None:
        self._jobs.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + self.interval_s
        while self._jobs:
            first = [job for job in self._jobs if job.first_now]
            if first:
                for job in first:
                    job.first_now = False
                await self._look(first)
                continue
            if loop.time() < next_at:
                await self._sleep_until(loop, next_at)
                continue  # woken early (a job that wants its first look now), or on time: look again
            self.ticks += 1
            next_at += self.interval_s
            if next_at <= loop.time():  # the loop was held up: no burst of ticks to catch up
                next_at = loop.time() + self.interval_s
            due = [job for job in self._jobs if self.ticks % job.every == 0]
            if due:
                await self._look(due)

    async def _sleep_until(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        self._wake = wake = loop.create_future()
        timer = loop.call_at(when, _settle, wake)
        try:
            await wake
        finally:
            timer.cancel()
            self._wake = None

    async def _look(self, jobs: list[Job]) -> None:
        async with self._looking:
            self.thread_calls += 1
            results = await asyncio.to_thread(_look_all, jobs)
        for job, error, value in results:  # on the loop, in the order the jobs were added
            if job.removed:
                continue
            if error is None:
                try:
                    job.deliver(value)
                except Exception as exc:
                    error = exc
            if error is None:
                job.last_error = None
                continue
            text = f"{type(error).__name__}: {error}"
            if text != job.last_error:  # once per distinct error, not every tick
                job.last_error = text
                log.warning("periodic look failed", job=job.name, error=text[:300], exc_info=error)


def _look_all(jobs: list[Job]) -> list[tuple[Job, BaseException | None, Any]]:
    results: list[tuple[Job, BaseException | None, Any]] = []
    for job in jobs:
        try:
            results.append((job, None, job.look()))
        except Exception as exc:
            results.append((job, exc, None))
    return results


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
