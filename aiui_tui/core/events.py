"""Typed events that services publish on the bus and the UIs render.

Events are frozen dataclasses named in the past tense (or as samples/notices). They carry
plain data only, so the TUI and the CLI can render them without knowing any service.
Each service's events live in its own section below.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiui_tui.core.downloads import DownloadItem


@dataclass(frozen=True)
class Event:
    """Base of every event; `at` is a wall-clock timestamp (seconds since the epoch)."""

    at: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True)
class Notice(Event):
    """Something a person should read: level is "info", "success", "warning" or "error"."""

    level: str
    message: str
    fix: str = ""
    source: str = ""


# --- downloads ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadQueued(Event):
    item: DownloadItem


@dataclass(frozen=True)
class DownloadProgress(Event):
    """Throttled to at most 10 per second per download. `speed` in bytes/s over the last seconds."""

    id: str
    done: int
    total: int | None
    speed: float | None
    eta: float | None
    segments: tuple[tuple[int, int, int], ...] = ()  # (start, end, done) per segment


@dataclass(frozen=True)
class DownloadStateChanged(Event):
    id: str
    state: str
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
    """The queue changed in another process (a CLI `queue add`): UIs reload their snapshot."""


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


# --- apps -----------------------------------------------------------------------------------


# --- monitor --------------------------------------------------------------------------------


# --- library --------------------------------------------------------------------------------


# --- plugins --------------------------------------------------------------------------------
