"""Download progress as plain lines, for a stderr that is not a terminal (a log, a pipe, a CI job).

rich's bars draw nothing there until they stop, and importing rich costs ~50 ms of a start-up; these
print the notices as they come and, when the downloads end well, one line per download with its
size, as rich's last frame does (a failure is its one error line). `stderr_is_terminal` decides as
rich does (TTY_COMPATIBLE, FORCE_COLOR, isatty).
"""

from __future__ import annotations

import os
import sys

from aiui_tui.bus import Bus
from aiui_tui.core.events import DownloadProgress, DownloadQueued, DownloadStateChanged, Notice
from aiui_tui.core.format import human_bytes


def stderr_is_terminal() -> bool:
    """Whether rich would draw on stderr (its own rules: TTY_COMPATIBLE, then FORCE_COLOR, then isatty)."""
    tty_compatible = os.environ.get("TTY_COMPATIBLE", "")
    if tty_compatible in ("0", "1"):
        return tty_compatible == "1"
    force = os.environ.get("FORCE_COLOR")
    if force is not None:
        return force != ""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced by something without isatty
        return False


def say(text: str) -> None:
    """One line on stderr, as it is (no markup, no colour)."""
    print(text, file=sys.stderr, flush=True)


class DownloadLines:
    """Notices as lines while downloads run, and each download's progress once at the end.
    Use as a context manager, as `DownloadBars`."""

    def __init__(self, bus: Bus, names: dict[str, str] | None = None) -> None:
        self.bus = bus
        self.names = dict(names or {})
        self.progress: dict[str, tuple[int, int | None]] = {}
        self._unsubscribe: list = []

    def __enter__(self) -> DownloadLines:
        self._unsubscribe = [
            self.bus.subscribe(self._on_progress, DownloadProgress),
            self.bus.subscribe(self._on_state, DownloadStateChanged, DownloadQueued),
            self.bus.subscribe(self._on_notice, Notice),
        ]
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        if exc_type is not None:  # a failure is its one error line
            return
        for item_id, (done, total) in self.progress.items():
            name = self.names.get(item_id, item_id)
            say(f"{name} {human_bytes(done)}/{human_bytes(total)}" if total else f"{name} {human_bytes(done)}")

    def _on_progress(self, event: DownloadProgress) -> None:
        self.progress[event.id] = (event.done, event.total)

    def _on_state(self, event: DownloadStateChanged | DownloadQueued) -> None:
        item = event.item
        self.names[item.id] = item.display_name
        done, total = self.progress.get(item.id, (0, None))
        self.progress[item.id] = (max(done, item.done_bytes), item.total_bytes or item.size or total)

    def _on_notice(self, event: Notice) -> None:
        say(event.message)
