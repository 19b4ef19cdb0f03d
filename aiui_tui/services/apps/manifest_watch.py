"""Notice manifests added, edited or removed in `config/apps/` while the dashboard runs.

A cheap poll: every couple of seconds the folder's `*.toml` entries are stat'ed (in a thread) and
compared with the last look; a change calls back. A dozen small files cost microseconds, need no
inotify (which misses edits on network filesystems and in some containers) and no dependency.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiui_tui.logs import get_logger

log = get_logger(__name__)
POLL_S = 2.0

Snapshot = dict[str, tuple[int, int, int, int]]


def snapshot(folder: Path) -> Snapshot:
    """Each `*.toml` in the folder: (inode, size, mtime_ns, ctime_ns); empty when the folder is absent."""
    found: Snapshot = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not entry.name.endswith(".toml"):
                    continue
                try:
                    st = entry.stat()
                except OSError:
                    continue  # removed meanwhile
                found[entry.name] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    except OSError:
        return {}
    return found


async def watch(
    folder: Path, on_change: Callable[[], Awaitable[None]], every_s: float = POLL_S, first: Snapshot | None = None
) -> None:
    """Call `on_change` after each change of the folder's manifests, until cancelled.

    The next look is scheduled when the previous one finished (re-armed, never stacked); a failing
    callback is logged and the watch goes on.
    """
    last = first if first is not None else await asyncio.to_thread(snapshot, folder)
    while True:
        await asyncio.sleep(every_s)
        now = await asyncio.to_thread(snapshot, folder)
        if now == last:
            continue
        last = now
        try:
            await on_change()
        except Exception:
            log.exception("reloading the app manifests failed", folder=str(folder))
