"""Typed events that services publish on the bus and the UIs render.

Events are frozen dataclasses named in the past tense (or as samples/notices). They carry
plain data only, so the TUI and the CLI can render them without knowing any service.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


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
