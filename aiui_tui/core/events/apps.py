"""The apps' events (services/apps): the Docker engine, each app's state, image pulls, container figures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiui_tui.core.events import Event

if TYPE_CHECKING:
    from aiui_tui.core.apps import AppStatus


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
