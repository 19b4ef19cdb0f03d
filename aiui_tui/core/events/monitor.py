"""The monitor's events (services/monitor): samples of the system and of the GPUs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiui_tui.core.events import Event

if TYPE_CHECKING:
    from aiui_tui.core.monitor import GpuStats, SystemStats


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
