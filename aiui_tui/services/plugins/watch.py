"""Notice plugins copied into `<root>/plugins/` (or removed, or edited) and settings files changed
by another process (`aiui-tui plugins enable`), while the dashboard runs.

A cheap poll, like the app manifests' watch: every couple of seconds the plugin folders, their
`plugin.toml` and `config/plugins/*.toml` are stat'ed in a thread and compared with the last look.
A change is only announced: nothing is imported or enabled by it (a copied plugin stays off until
its settings say `enabled = true`, and loads at the next start).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from aiui_tui.logs import get_logger

log = get_logger(__name__)
POLL_S = 2.0
MANIFEST = "plugin.toml"

Snapshot = dict[str, tuple[int, int, int]]


def _stat(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def snapshot(plugins_dir: Path, settings_dir: Path) -> Snapshot:
    """(inode, size, mtime) of each plugin folder, its plugin.toml and each settings file."""
    found: Snapshot = {}
    for folder, pick in ((plugins_dir, "dir"), (settings_dir, ".toml")):
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if pick == "dir" and entry.is_dir():
                        for path in (entry.path, os.path.join(entry.path, MANIFEST)):
                            if (st := _stat(path)) is not None:
                                found[path] = st
                    elif pick == ".toml" and entry.name.endswith(".toml") and (st := _stat(entry.path)):
                        found[entry.path] = st
        except OSError:
            continue  # absent or unreadable: nothing there to see
    return found


async def watch(
    plugins_dir: Path,
    settings_dir: Path,
    on_change: Callable[[], None],
    every_s: float = POLL_S,
    first: Snapshot | None = None,
) -> None:
    """Call `on_change` after each change since `first` (or the first look), until cancelled; the next
    look is armed when one finished."""
    last = first if first is not None else await asyncio.to_thread(snapshot, plugins_dir, settings_dir)
    while True:
        await asyncio.sleep(every_s)
        now = await asyncio.to_thread(snapshot, plugins_dir, settings_dir)
        if now != last:
            last = now
            log.info("plugins folder changed", folder=str(plugins_dir))
            on_change()
