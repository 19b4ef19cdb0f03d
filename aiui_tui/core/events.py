"""Typed events that services publish on the bus and the UIs render.

Events are frozen dataclasses named in the past tense (or as samples/notices). They carry
plain data only, so the TUI and the CLI can render them without knowing any service.
Each service's events live in its own section below.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from aiui_tui.core.apps import AppStatus
from aiui_tui.core.downloads import DownloadItem, DownloadState
from aiui_tui.core.monitor import GpuStats, SystemStats


@dataclass(frozen=True)
class Event:
    """Base of every event; `at` is a wall-clock timestamp (seconds since the epoch).

    How an event reaches the screens is declared on its class (the TUI's bridge and screens read these,
    so a new event says it here, not in lists kept elsewhere):
    """

    # Folded into the UI state only, without a message: screens redraw it on their own tick (samples).
    quiet: ClassVar[bool] = False
    # A newer one with the same `key` makes an older, still-queued one useless (progress, samples).
    replaceable: ClassVar[bool] = False
    # The field whose value tells one stream of these from another (one download, one app...); None: one stream.
    key_field: ClassVar[str | None] = None
    # The status line (engine, GPU, file operations) shows it.
    status_line: ClassVar[bool] = False
    # The dashboard's app cards change with it (added, removed or redrawn).
    app_cards: ClassVar[bool] = False

    at: float = field(default_factory=time.time, kw_only=True)

    @property
    def key(self) -> object:
        """The value of `key_field`: two replaceable events with equal keys are of the same stream."""
        return getattr(self, self.key_field) if self.key_field else None


@dataclass(frozen=True)
class Notice(Event):
    """Something a person should read: level is "info", "success", "warning" or "error"."""

    level: str
    message: str
    fix: str = ""
    source: str = ""


# --- settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigChanged(Event):
    """New settings were applied to the running services (`services.config_change.apply_config`):
    `sections` names the parts of config/aiui.toml that changed ("apps", "downloads", "library").
    Screens showing a setting read it again."""

    sections: tuple[str, ...] = ()


# --- downloads ------------------------------------------------------------------------------


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


# --- apps -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineStateChanged(Event):
    """The Docker engine answered again, or stopped answering (the service reconnects by itself)."""

    status_line = True
    app_cards = True

    available: bool
    address: str
    reason: str = ""
    fix: str = ""


@dataclass(frozen=True)
class AppStateChanged(Event):
    app_cards = True

    name: str
    status: AppStatus
    reason: str = ""


@dataclass(frozen=True)
class AppRemoved(Event):
    """The app's manifest was removed from config/apps while running: its card goes."""

    app_cards = True

    name: str


@dataclass(frozen=True)
class AppPullProgress(Event):
    """Pull progress over every layer of `image`: bytes (downloaded while known, then extracted)."""

    replaceable = True
    key_field = "name"
    app_cards = True

    name: str
    image: str
    done: int
    total: int | None
    layers_done: int
    layers_total: int
    status: str = ""


@dataclass(frozen=True)
class ContainerStats(Event):
    """One sample of a running app container, from its streaming stats reader."""

    quiet = True
    replaceable = True
    key_field = "name"

    name: str
    container_id: str
    cpu_percent: float
    memory_used: int
    memory_limit: int
    net_rx: int
    net_tx: int
    block_read: int
    block_write: int
    gpu_memory: int | None = None  # bytes on GPUs, from NVML's process list; None: unknown


# --- monitor --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SystemSample(Event):
    quiet = True
    replaceable = True

    sample: SystemStats


@dataclass(frozen=True)
class GpuSample(Event):
    """Every GPU at one instant; `available` False carries why (no driver...) and the fix."""

    replaceable = True
    status_line = True

    available: bool
    gpus: tuple[GpuStats, ...] = ()
    reason: str = ""
    fix: str = ""


# --- library --------------------------------------------------------------------------------


# --- plugins --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PluginsChanged(Event):
    """A plugin folder or a plugin's settings file appeared, changed or went (another process, a copy):
    UIs discover the plugins again. Nothing is loaded or enabled by it."""


# --- library --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LibraryChanged(Event):
    """Files were added, changed or removed in the library; UIs reload their list."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    reason: str = ""


# What each long file operation is called on screen (the CLI's bars and the TUI's progress line).
FILE_OPS = {
    "scan": "Hashing",
    "verify": "Verifying",
    "import": "Importing",
    "link": "Linking",
    "unlink": "Undoing links",
    "dedupe": "Replacing copies",
}


@dataclass(frozen=True)
class FileOpProgress(Event):
    """A long library file operation (hashing in a scan, verify, import, link, unlink, dedupe) moved on.

    Throttled to at most 10 per second per operation; the first and the last (`finished`) always
    come. `id` names one run; `files_*` count files, `done`/`total` bytes (the files done plus what
    was read of the ones in progress), `current` is the file being worked on.
    """

    replaceable = True
    key_field = "id"
    status_line = True

    id: str
    op: str
    files_done: int
    files_total: int
    done: int
    total: int
    current: str = ""
    finished: bool = False

    @property
    def title(self) -> str:
        return FILE_OPS.get(self.op, self.op.capitalize())
