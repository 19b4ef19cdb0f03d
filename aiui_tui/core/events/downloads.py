"""The download queue's events (services/downloads): an item queued, its progress, its state, its end."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiui_tui.core.downloads import DownloadItem, DownloadState
from aiui_tui.core.events import Event


@dataclass(frozen=True)
class DownloadQueued(Event):
    item: DownloadItem


@dataclass(frozen=True)
class DownloadProgress(Event):
    """Throttled to at most 10 per second per download. `speed` in bytes/s over the last seconds."""

    quiet = True
    replaceable = True
    key_field = "id"

    id: str
    done: int
    total: int | None
    speed: float | None
    eta: float | None
    segments: tuple[tuple[int, int, int], ...] = ()  # (start, end, done) per segment


@dataclass(frozen=True)
class DownloadStateChanged(Event):
    """`state` is the item's new state, or CANCELLED: the item left the queue (`item` as it was)."""

    id: str
    state: DownloadState
    item: DownloadItem
    reason: str = ""


@dataclass(frozen=True)
class DownloadFailed(Event):
    id: str
    name: str
    message: str
    fix: str = ""


@dataclass(frozen=True)
class DownloadQueueChanged(Event):
    """The queue changed (in another process: a CLI `downloads add`; or reordered): `items` is the whole
    queue as it is now, in order, for UIs to take as their snapshot (None: reload it yourself)."""

    items: tuple[DownloadItem, ...] | None = None


@dataclass(frozen=True)
class DownloadFinished(Event):
    """A file is complete, verified when a hash was known, and renamed to its final path.

    The library indexes it from this event without hashing it again.
    """

    id: str
    path: Path
    size: int
    sha256: str
    verified: bool
    kind: str | None = None
    source: dict[str, Any] = field(default_factory=dict)
