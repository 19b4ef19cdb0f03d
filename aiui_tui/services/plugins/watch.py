"""Notice plugins copied into `<root>/plugins/` (or removed, or edited) and settings files changed
by another process (`aiui-tui plugins enable`), while the dashboard runs (a poll, see
services/folder_watch.py).

A change is only announced: nothing is imported or enabled by it (a copied plugin stays off until
its settings say `enabled = true`, and loads at the next start).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiui_tui.services import folder_watch

POLL_S = folder_watch.POLL_S
MANIFEST = "plugin.toml"

Snapshot = dict[str, folder_watch.Stat]


def snapshot(plugins_dir: Path, settings_dir: Path) -> Snapshot:
    """The stat of each plugin folder, its plugin.toml and each settings file."""
    paths: list[str] = []
    for folder, pick in ((plugins_dir, "dir"), (settings_dir, ".toml")):
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if pick == "dir" and entry.is_dir():
                        paths += [entry.path, os.path.join(entry.path, MANIFEST)]
                    elif pick == ".toml" and entry.name.endswith(".toml"):
                        paths.append(entry.path)
        except OSError:
            continue  # absent or unreadable: nothing there to see
    return {path: st for path in paths if (st := folder_watch.stat_of(path)) is not None}


async def watch(
    plugins_dir: Path,
    settings_dir: Path,
    on_change: Callable[[], None],
    every_s: float = POLL_S,
    first: Snapshot | None = None,
    ticker: Any = None,
) -> None:
    """Call `on_change` after each change since `first` (or the first look), until cancelled (on the
    services' `ticker` when given)."""
    look = lambda: snapshot(plugins_dir, settings_dir)  # noqa: E731
    await folder_watch.poll(look, on_change, what=str(plugins_dir), every_s=every_s, first=first, ticker=ticker)
