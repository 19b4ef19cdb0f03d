"""One app on the dashboard: state, URL, uptime, CPU, memory, GPU memory, pull progress."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from aiui_tui.core.format import human_bytes, human_duration
from aiui_tui.tui.widgets.bars import bar

if TYPE_CHECKING:
    from aiui_tui.tui.state import AppView


def card_id(name: str) -> str:
    """The card's widget id: app names are safe, a broken file's stem may hold any character."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    if safe != name:
        import hashlib

        safe += "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"card-{safe}"


def shown_source(reason: str, source: str) -> str:
    """The error with the manifest's path shortened to config/apps/NAME.toml (the card is narrow)."""
    head, sep, tail = source.rpartition("/config/apps/")
    return reason.replace(source, f"config/apps/{tail}") if sep and head else reason


class AppCard(Static, can_focus=True):
    DEFAULT_CSS = """
    AppCard {
        height: 5;
        border: round $panel-lighten-2;
        padding: 0 1;
        margin: 0 0 1 0;
    }
    AppCard:focus { border: round $accent; }
    AppCard.-tall { height: auto; min-height: 5; }
    """

    def __init__(self, view: AppView, **kwargs) -> None:
        super().__init__(**kwargs)
        self.view = view
        self._shown: tuple | None = None

    @property
    def app_name(self) -> str:
        return self.view.status.name

    def on_mount(self) -> None:
        self._tall()

    def update_view(self, view: AppView) -> None:
        """Repaint only when what the card shows changed (idle apps cost nothing per tick)."""
        self.view = view
        key = self._key()
        if key != self._shown:
            self._shown = key
            self._tall()
            self.refresh(layout=self.has_class("-tall"))  # a taller text needs room

    def _tall(self) -> None:
        """A broken manifest's error and a fix are shown whole: the card grows to hold them."""
        s = self.view.status
        self.set_class(s.state == "broken" or bool(s.fix and not s.running), "-tall")

    def _key(self) -> tuple:
        s, stats, pull = self.view.status, self.view.stats, self.view.pull
        uptime = int((time.time() - s.started_at) // 60) if s.started_at else None  # the card shows minutes
        numbers = (round(stats.cpu_percent, 1), stats.memory_used >> 20, stats.gpu_memory) if stats else None
        return (s, numbers, (pull.done, pull.layers_done) if pull else None, uptime)

    def render(self) -> Group:
        from aiui_tui.core.presentation import app_state  # loaded with the states: not before the first frame

        s = self.view.status
        label, style = app_state(s.state)
        if s.state == "pulling" and self.view.pull and self.view.pull.total:
            label = f"pulling {100 * self.view.pull.done / self.view.pull.total:.0f}%"
        head = Text.assemble((s.title, "bold"), "  ", (f"● {label}", style))
        if s.profile:
            head.append(f"  profile {s.profile}", style="dim")
        if s.state == "broken":  # the file, the line and the key, then the fix
            second = Text(shown_source(s.reason, s.source), style="red")
            third = Text.assemble(("Fix: ", "bold"), s.fix, ("  · the card follows the file", "dim"))
            return Group(head, second, third)
        if s.state == "ready" and s.url:
            second = Text.assemble(("URL ", "dim"), (s.url, "underline cyan"))
        elif s.state == "exited":
            code = f"exit code {s.exit_code}" if s.exit_code is not None else "exited"
            second = Text(f"{code}: {s.reason or 'see logs (l)'}", style="red")
        elif s.reason:
            second = Text(s.reason, style="dim")
        else:
            second = Text(s.image, style="dim")
        stats = self.view.stats
        if s.running and stats is not None:
            gpu = human_bytes(stats.gpu_memory) if stats.gpu_memory is not None else "n/a"
            uptime = _minutes(time.time() - s.started_at) if s.started_at else "?"
            third = Text.assemble(
                ("up ", "dim"), uptime,
                ("  CPU ", "dim"), f"{stats.cpu_percent:5.1f}%",
                ("  MEM ", "dim"), human_bytes(stats.memory_used),
                ("  GPU ", "dim"), gpu,
            )  # fmt: skip
        elif s.state == "pulling" and self.view.pull:
            p = self.view.pull
            fraction = p.done / p.total if p.total else None
            third = Text.assemble(bar(fraction, 30), f" {p.layers_done}/{p.layers_total} layers {human_bytes(p.done)}")
        elif s.fix:
            third = Text.assemble(("Fix: ", "bold"), s.fix)
        else:
            third = Text("s start · l details · ? keys", style="dim")
        return Group(head, second, third)


def _minutes(seconds: float) -> str:
    """Uptime to the minute (the card repaints at most once a minute for it)."""
    minutes = int(seconds // 60)
    if minutes < 1:
        return "<1m"
    return f"{minutes}m" if minutes < 60 else human_duration(seconds)
