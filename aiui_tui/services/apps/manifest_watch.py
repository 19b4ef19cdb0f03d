"""Notice manifests added, edited or removed in `config/apps/` while the dashboard runs (a poll,
see services/folder_watch.py)."""

from __future__ import annotations

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
    return folder_watch.stat_names(folder, ".toml")


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
