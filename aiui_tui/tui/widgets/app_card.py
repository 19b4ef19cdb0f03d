"""One app on the dashboard: state, URL, uptime, CPU, memory, GPU memory, pull progress."""

from __future__ import annotations

import time

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from aiui_tui.core.format import human_bytes, human_duration
from aiui_tui.tui.state import AppView
from aiui_tui.tui.widgets.bars import bar

STATE_STYLE = {
    "ready": "bold green",
    "starting": "bold yellow",
    "pulling": "bold cyan",
    "stopping": "yellow",
    "stopped": "dim",
    "not created": "dim",
    "exited": "bold red",
    "unknown": "magenta",
}
STATE_LABEL = {"starting": "waiting for UI", "not created": "stopped"}


class AppCard(Static, can_focus=True):
    DEFAULT_CSS = """
    AppCard {
        height: 5;
        border: round $panel-lighten-2;
        padding: 0 1;
        margin: 0 0 1 0;
    }
    AppCard:focus { border: round $accent; }
    """

    def __init__(self, view: AppView, **kwargs) -> None:
        super().__init__(**kwargs)
        self.view = view

    @property
    def app_name(self) -> str:
        return self.view.status.name

    def update_view(self, view: AppView) -> None:
        self.view = view
        self.refresh()

    def render(self) -> Group:
        s = self.view.status
        label = STATE_LABEL.get(s.state, s.state)
        if s.state == "pulling" and self.view.pull and self.view.pull.total:
            label = f"pulling {100 * self.view.pull.done / self.view.pull.total:.0f}%"
        head = Text.assemble((s.title, "bold"), "  ", (f"● {label}", STATE_STYLE.get(s.state, "")))
        if s.profile:
            head.append(f"  profile {s.profile}", style="dim")
        if s.state == "ready" and s.url:
            second = Text.assemble(("URL ", "dim"), (s.url, "underline cyan"))
        elif s.state == "exited":
            second = Text(f"exit code {s.exit_code}: {s.reason or 'see logs (l)'}", style="red")
        elif s.reason:
            second = Text(s.reason, style="dim")
        else:
            second = Text(s.image, style="dim")
        stats = self.view.stats
        if s.running and stats is not None:
            gpu = human_bytes(stats.gpu_memory) if stats.gpu_memory is not None else "n/a"
            uptime = human_duration(time.time() - s.started_at) if s.started_at else "?"
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
        else:
            third = Text("s start · l logs · ? keys", style="dim")
        return Group(head, second, third)
