"""System panels: CPU per core with a history sparkline, memory, disk free of models and outputs."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from aiui_tui.core.format import human_bytes
from aiui_tui.tui.state import UiState
from aiui_tui.tui.widgets.bars import bar, meter_style


def cpu_text(state: UiState) -> Group | Text:
    s = state.system
    if s is None:
        return Text("CPU: waiting for the first sample…", style="dim")
    lines = [
        Text.assemble(
            ("CPU ", "bold"), f"{s.cpu_percent:5.1f}%  ", bar(s.cpu_percent / 100, 20, meter_style(s.cpu_percent))
        )
    ]
    for i, pct in enumerate(s.cpu_per_core[:16]):
        lines.append(Text.assemble((f" core {i:<2} ", "dim"), bar(pct / 100, 20, meter_style(pct)), f" {pct:5.1f}%"))
    if len(s.cpu_per_core) > 16:
        lines.append(Text(f" … {len(s.cpu_per_core) - 16} more cores", style="dim"))
    return Group(*lines)


def memory_text(state: UiState) -> Group | Text:
    s = state.system
    if s is None:
        return Text("")
    pct = 100 * s.memory_used / s.memory_total if s.memory_total else 0
    lines = [
        Text.assemble(
            ("MEM ", "bold"),
            f"{human_bytes(s.memory_used)} / {human_bytes(s.memory_total)}  ",
            bar(pct / 100, 20, meter_style(pct)),
        ),
    ]
    for disk in s.disks:
        used = 100 * (disk.total - disk.free) / disk.total if disk.total else 0
        lines.append(
            Text.assemble(
                (f"{disk.label:<8}", "bold"), f"{human_bytes(disk.free)} free  ", bar(used / 100, 20, meter_style(used))
            )
        )
    return Group(*lines)


class SystemPanel(Vertical):
    DEFAULT_CSS = """
    SystemPanel { height: auto; border: round $panel-lighten-2; padding: 0 1; }
    SystemPanel Sparkline { height: 2; margin: 0 0 1 0; }
    SystemPanel > Static { height: auto; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="cpu")
        yield Sparkline([], id="cpu-history")
        yield Static(id="memory")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._lines: dict[str, int] = {}

    def _update(self, widget_id: str, content: Group | Text) -> None:
        """A relayout only when the number of lines changed: the panel redraws every second."""
        lines = len(content.renderables) if isinstance(content, Group) else 1
        layout = self._lines.get(widget_id) != lines
        self._lines[widget_id] = lines
        self.query_one(f"#{widget_id}", Static).update(content, layout=layout)

    def show(self, state: UiState) -> None:
        self._update("cpu", cpu_text(state))
        history = self.query_one("#cpu-history", Sparkline)
        show = len(state.cpu) > 1  # one value draws as a full bar
        if history.display != show:
            history.display = show
        history.data = list(state.cpu)
        self._update("memory", memory_text(state))
