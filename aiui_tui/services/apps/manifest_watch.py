"""Notice manifests added, edited or removed in `config/apps/` while the dashboard runs (a poll,
see services/folder_watch.py)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aiui_tui.services import folder_watch

if TYPE_CHECKING:
    from aiui_tui.services.ticker import Ticker

POLL_S = folder_watch.POLL_S

Snapshot = dict[str, folder_watch.Stat]


def snapshot(folder: Path) -> Snapshot:
    """Each `*.toml` in the folder with its stat; empty when the folder is absent."""
    try:
        names = [name for name in os.listdir(folder) if name.endswith(".toml")]
    except OSError:
        return {}
    return {name: st for name in names if (st := folder_watch.stat_of(folder / name)) is not None}


async def watch(
    folder: Path,
    on_change: Callable[[], Awaitable[None]],
    every_s: float = POLL_S,
    first: Snapshot | None = None,
    ticker: Ticker | None = None,
) -> None:
    """Call `on_change` after each change of the folder's manifests, until cancelled (on `ticker` when given)."""
    look = lambda: snapshot(folder)  # noqa: E731
    await folder_watch.poll(look, on_change, what=str(folder), every_s=every_s, first=first, ticker=ticker)
