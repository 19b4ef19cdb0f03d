"""Notice files another process changes while the dashboard runs, by polling.

Every couple of seconds a `look` stats a handful of files (in a thread) and is compared with the
last one; a change calls back. A dozen small files cost microseconds, need no inotify (which misses
edits on network filesystems and in some containers) and no dependency. Used for the app manifests
(`config/apps/`) and the plugins folder. Given the services' ticker, the look is one more job in its
tick's thread call (no timer or thread call of its own).
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from aiui_tui.logs import get_logger

if TYPE_CHECKING:
    from aiui_tui.services.ticker import Ticker

log = get_logger(__name__)
POLL_S = 2.0

Stat = tuple[int, int, int, int]
T = TypeVar("T")


def stat_of(path: str | os.PathLike[str]) -> Stat | None:
    """(inode, size, mtime_ns, ctime_ns): what changes when a file is replaced, edited or chmod'ed;
    None when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def stat_names(folder: str | os.PathLike[str], suffix: str) -> dict[str, Stat]:
    """The stat of each file in `folder` whose name ends with `suffix`, by name; empty when the folder
    is absent. The folder is opened once and each name looked up in it (`dir_fd`): a path joined and
    resolved from the root for every file cost three times as much."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return {}
    found: dict[str, Stat] = {}
    try:
        for name in os.listdir(fd):
            if not name.endswith(suffix):
                continue
            try:
                st = os.stat(name, dir_fd=fd)
            except OSError:
                continue  # removed meanwhile
            found[name] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    except OSError:
        return {}
    finally:
        os.close(fd)
    return found


async def poll(
    look: Callable[[], T],
    on_change: Callable[[], Awaitable[None] | None],
    *,
    what: str,
    every_s: float = POLL_S,
    first: T | None = None,
    ticker: Ticker | None = None,
) -> None:
    """Call `on_change` after each change of `look()` since `first` (or the first look), until
    cancelled. The next look is armed when the previous one finished (never stacked); a failing
    callback is logged and the watch goes on. With `ticker` (and `every_s` no shorter than its
    interval) the looks run in the ticker's thread call; a change seen while `on_change` still runs
    is reacted to at the next look."""
    last = first if first is not None else await asyncio.to_thread(look)
    if ticker is not None and every_s >= ticker.interval_s:
        await _on_ticker(ticker, look, on_change, what, every_s, last)
        return
    while True:
        await asyncio.sleep(every_s)
        now = await asyncio.to_thread(look)
        if now == last:
            continue
        last = now
        await _react(on_change, what)


async def _on_ticker(
    ticker: Ticker,
    look: Callable[[], T],
    on_change: Callable[[], Awaitable[None] | None],
    what: str,
    every_s: float,
    last: T,
) -> None:
    reacting: asyncio.Task[None] | None = None

    def deliver(now: T) -> None:
        nonlocal last, reacting
        if now == last or (reacting is not None and not reacting.done()):
            return
        last = now
        reacting = asyncio.get_running_loop().create_task(_react(on_change, what), name=f"reacting to {what}")

    stop = ticker.add(f"watch {what}", look, deliver, every_s=every_s)
    try:
        await asyncio.get_running_loop().create_future()  # until cancelled
    finally:
        stop()
        if reacting is not None:
            reacting.cancel()


async def _react(on_change: Callable[[], Awaitable[None] | None], what: str) -> None:
    log.info("folder changed", what=what)
    try:
        result = on_change()
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("reacting to a folder change failed", what=what)
