"""Typed events that services publish on the bus and the UIs render.

Events are frozen dataclasses named in the past tense (or as samples/notices). They carry
plain data only, so the TUI and the CLI can render them without knowing any service.
The base class, notices, and the settings' and plugins' events are here; each service's events
live in a module of their own (`downloads`, `apps`, `monitor`, `library`), imported when one of
its names is first used: `from aiui_tui.core.events import DownloadProgress` works as for the
others, and a command that only downloads does not build the apps' or the monitor's classes
(each frozen dataclass costs about a millisecond to create).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from aiui_tui.core.lazy import lazy_exports

if TYPE_CHECKING:
    from aiui_tui.core.events.apps import AppPullProgress as AppPullProgress
    from aiui_tui.core.events.apps import AppRemoved as AppRemoved
    from aiui_tui.core.events.apps import AppStateChanged as AppStateChanged
    from aiui_tui.core.events.apps import ContainerStats as ContainerStats
    from aiui_tui.core.events.apps import EngineStateChanged as EngineStateChanged
    from aiui_tui.core.events.downloads import DownloadFailed as DownloadFailed
    from aiui_tui.core.events.downloads import DownloadFinished as DownloadFinished
    from aiui_tui.core.events.downloads import DownloadProgress as DownloadProgress
    from aiui_tui.core.events.downloads import DownloadQueueChanged as DownloadQueueChanged
    from aiui_tui.core.events.downloads import DownloadQueued as DownloadQueued
    from aiui_tui.core.events.downloads import DownloadStateChanged as DownloadStateChanged
    from aiui_tui.core.events.library import FILE_OPS as FILE_OPS
    from aiui_tui.core.events.library import FileOpProgress as FileOpProgress
    from aiui_tui.core.events.library import LibraryChanged as LibraryChanged
    from aiui_tui.core.events.monitor import GpuSample as GpuSample
    from aiui_tui.core.events.monitor import SystemSample as SystemSample


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


# --- plugins --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PluginsChanged(Event):
    """A plugin folder or a plugin's settings file appeared, changed or went (another process, a copy):
    UIs discover the plugins again. Nothing is loaded or enabled by it."""


# --- the events of each service, in its own module -------------------------------------------

_SECTIONS = {
    "downloads": ("DownloadQueued", "DownloadProgress", "DownloadStateChanged", "DownloadFailed",
                  "DownloadQueueChanged", "DownloadFinished"),
    "apps": ("EngineStateChanged", "AppStateChanged", "AppRemoved", "AppPullProgress", "ContainerStats"),
    "monitor": ("SystemSample", "GpuSample"),
    "library": ("LibraryChanged", "FILE_OPS", "FileOpProgress"),
}  # fmt: skip


__getattr__, __dir__ = lazy_exports(
    __name__,
    {name: (f"{__name__}.{section}", name) for section, names in _SECTIONS.items() for name in names},
    globals(),
)
