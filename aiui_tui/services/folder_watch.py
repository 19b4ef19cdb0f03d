"""Notice files another process changes while the dashboard runs, by polling.

Every couple of seconds a `look` stats a handful of files (in a thread) and is compared with the
last one; a change calls back. A dozen small files cost microseconds, need no inotify (which misses
edits on network filesystems and in some containers) and no dependency. Used for the app manifests
(`config/apps/`) and the plugins folder.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiui_tui.logs import get_logger

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


async def poll(
    look: Callable[[], T],
    on_change: Callable[[], Awaitable[None] | None],
    *,
    what: str,
    every_s: float = POLL_S,
    first: T | None = None,
) -> None:
    """Call `on_change` after each change of `look()` since `first` (or the first look), until
    cancelled. The next look is armed when the previous one finished (never stacked); a failing
    callback is logged and the watch goes on."""
    last = first if first is not None else await asyncio.to_thread(look)
    while True:
        await asyncio.sleep(every_s)
        now = await asyncio.to_thread(look)
        if now == last:
            continue
        last = now
        log.info("folder changed", what=what)
        try:
            result = on_change()
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("reacting to a folder change failed", what=what)
