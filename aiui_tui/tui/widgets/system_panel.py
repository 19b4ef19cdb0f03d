"""System panels: CPU per core with a history sparkline, memory, disk free of models and outputs.

Each line is a label, a bar and a figure; the bars take what the panel's width leaves (the panel
is 36 columns on an 80-column terminal, wider beside fewer cards), so no line wraps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from aiui_tui.core.format import human_bytes, human_used_of
from aiui_tui.tui.widgets.bars import bar, bar_width, meter_style

if TYPE_CHECKING:
    from aiui_tui.tui.state import UiState

LABEL = 8  # "outputs ", " core 12"
WIDTH = 52  # the content width before the panel is laid out


def _line(label: str, fraction: float, figure: str, cells: int, label_style: str = "bold") -> Text:
    pct = 100 * fraction
    return Text.assemble((f"{label:<{LABEL}}", label_style), bar(fraction, cells, meter_style(pct)), " ", figure)


def cpu_text(state: UiState, width: int = WIDTH) -> Group | Text:
    s = state.system
    if s is None:
        return Text("CPU: waiting for the first sample…", style="dim")
    cells = bar_width(width, LABEL + 1 + 6)
    lines = [_line("CPU", s.cpu_percent / 100, f"{s.cpu_percent:5.1f}%", cells)]
    for i, pct in enumerate(s.cpu_per_core[:16]):
        lines.append(_line(f" core {i}", pct / 100, f"{pct:5.1f}%", cells, "dim"))
    if len(s.cpu_per_core) > 16:
        lines.append(Text(f" … {len(s.cpu_per_core) - 16} more cores", style="dim"))
    return Group(*lines)


def memory_text(state: UiState, width: int = WIDTH) -> Group | Text:
    s = state.system
    if s is None:
        return Text("")
    memory = human_used_of(s.memory_used, s.memory_total)
    disks = [(d, f"{human_bytes(d.free)} free") for d in s.disks]
    figure = max([len(memory)] + [len(text) for _d, text in disks])
    cells = bar_width(width, LABEL + 1 + figure)
    lines = [_line("MEM", s.memory_used / s.memory_total if s.memory_total else 0, memory, cells)]
    for disk, text in disks:
        used = (disk.total - disk.free) / disk.total if disk.total else 0
        lines.append(_line(disk.label, used, text, cells))
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
        self._state: UiState | None = None

    def _update(self, widget_id: str, content: Group | Text) -> None:
        """A relayout only when the number of lines changed: the panel redraws every second."""
        lines = len(content.renderables) if isinstance(content, Group) else 1
        layout = self._lines.get(widget_id) != lines
        self._lines[widget_id] = lines
        self.query_one(f"#{widget_id}", Static).update(content, layout=layout)

    def show(self, state: UiState) -> None:
        self._state = state
        width = self.content_size.width or WIDTH
        self._update("cpu", cpu_text(state, width))
        history = self.query_one("#cpu-history", Sparkline)
        show = len(state.cpu) > 1  # one value draws as a full bar
        if history.display != show:
            history.display = show
        history.data = list(state.cpu)
        self._update("memory", memory_text(state, width))

    def on_resize(self) -> None:
        self._lines.clear()  # lines wrapped at the old width: measure their height again
        if self._state is not None:  # the bars follow the new width at once, not at the next tick
            self.show(self._state)
