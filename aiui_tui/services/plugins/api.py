"""The plugin API: what plugins receive and return. Stable within a major version (see API_VERSION).

Plugins import these names from `aiui_tui.plugins`, never from this module's location, so the
code behind them can move without breaking plugins.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pluggy

PROJECT = "aiui_tui"
# Major: hooks removed or changed incompatibly. Minor: hooks or fields added. A plugin targeting
# "1.0" runs on every 1.x; one targeting "1.3" needs at least 1.3.
API_VERSION = "1.0"

hookimpl = pluggy.HookimplMarker(PROJECT)
hookspec = pluggy.HookspecMarker(PROJECT)

# Event names a plugin can react to (PluginEvent.name).
DOWNLOAD_FINISHED = "download.finished"
DOWNLOAD_FAILED = "download.failed"
APP_READY = "app.ready"
APP_STOPPED = "app.stopped"
APP_CRASHED = "app.crashed"
EVENT_NAMES = (DOWNLOAD_FINISHED, DOWNLOAD_FAILED, APP_READY, APP_STOPPED, APP_CRASHED)


def parse_api(text: str) -> tuple[int, int] | None:
    """ "1" or "1.2" as (major, minor); None when it is not a version."""
    parts = str(text).strip().split(".")
    if not 1 <= len(parts) <= 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1]) if len(parts) == 2 else 0


def api_supported(target: str) -> bool:
    """A plugin targeting `target` runs here: same major, and a minor no newer than ours."""
    wanted, ours = parse_api(target), parse_api(API_VERSION)
    assert ours is not None
    return wanted is not None and wanted[0] == ours[0] and wanted[1] <= ours[1]


@dataclass(frozen=True)
class PluginEvent:
    """Something happened. `data` is plain JSON-ready values; its keys per event are in the docs."""

    name: str  # one of EVENT_NAMES
    data: dict[str, Any]
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {"event": self.name, "at": self.at, "data": self.data}


@dataclass(frozen=True)
class PluginContext:
    """Handed to every hook: the plugin's own name, settings and a logger bound to it."""

    name: str
    settings: dict[str, Any]  # config/plugins/NAME.toml without `enabled`
    root: Path  # the data root
    folder: Path | None  # the plugin's own folder (folder plugins), for data files it ships
    log: Any  # a structlog logger: log.info("message", key=value)


@dataclass(frozen=True)
class PaletteCommand:
    """A command in the TUI's palette (Ctrl+P). `run(ui)` gets a `PluginUI`; it may be async."""

    title: str
    help: str
    run: Callable[[Any], Awaitable[None] | None]


@dataclass(frozen=True)
class PluginScreen:
    """An optional screen: `factory(ui)` returns a Textual Screen; listed in the palette as `title`."""

    title: str
    factory: Callable[[Any], Any]


@runtime_checkable
class ModelSource(Protocol):
    """Another model site or a company mirror, searchable in `models search --source NAME` and the browser.

    `search` returns `aiui_tui.core.library.RemoteModel`s; each of their `files` (RemoteFile) carries
    the URL to download, its kind and, when known, its size and sha256.
    """

    name: str  # short id used on the command line, e.g. "mirror"
    title: str  # shown in the browser, e.g. "Company mirror"

    async def search(self, text: str, kind: str | None, limit: int) -> list[Any]: ...

    async def files(self, model_id: str) -> list[Any]:
        """The model's downloadable files (RemoteFile), for `models add NAME:MODEL_ID`."""
        ...


__all__ = [
    "API_VERSION",
    "EVENT_NAMES",
    "ModelSource",
    "PaletteCommand",
    "PluginContext",
    "PluginEvent",
    "PluginScreen",
    "api_supported",
    "hookimpl",
    "hookspec",
    "parse_api",
]
