"""System panels: CPU per core with a history sparkline, memory, disk free of models and outputs.

Each line is a label, a bar and a figure; the bars take what the panel's width leaves (the panel
is 36 columns on an 80-column terminal, wider beside fewer cards), so no line wraps.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widgets import Static

from aiui_tui.core.format import human_bytes, human_used_of
from aiui_tui.tui.widgets.bars import bar_eighths, bar_width, eighths_bar, eighths_cells, meter_style
from aiui_tui.tui.widgets.sparkline import STEP, CachedSparkline

if TYPE_CHECKING:
    from aiui_tui.tui.state import UiState

LABEL = 8  # "outputs ", " core 12"
WIDTH = 52  # the content width before the panel is laid out

# One line as shown: (label, bar cells filled in eighths, bar cells, meter style, figure, label style).
# Lines are compared in this form, so a sample that shows the same is not drawn again.
Row = tuple[str, int, int, str, str, str]


def _row(label: str, fraction: float, figure: str, cells: int, label_style: str = "bold") -> Row:
    return (label, bar_eighths(fraction, cells), cells, meter_style(100 * fraction), figure, label_style)


def _line(row: Row) -> Text:
    label, eighths, cells, style, figure, label_style = row
    return Text.assemble((f"{label:<{LABEL}}", label_style), eighths_bar(eighths, cells, style), " ", figure)


def cpu_rows(state: UiState, width: int = WIDTH) -> tuple:
    s = state.system
    if s is None:
        return ("CPU: waiting for the first sample…",)
    cells = bar_width(width, LABEL + 1 + 6)
    rows: list = [_row("CPU", s.cpu_percent / 100, f"{s.cpu_percent:5.1f}%", cells)]
    for i, pct in enumerate(s.cpu_per_core[:16]):
        rows.append(_row(f" core {i}", pct / 100, f"{pct:5.1f}%", cells, "dim"))
    if len(s.cpu_per_core) > 16:
        rows.append(f" … {len(s.cpu_per_core) - 16} more cores")
    return tuple(rows)


def memory_rows(state: UiState, width: int = WIDTH) -> tuple:
    s = state.system
    if s is None:
        return ("",)
    memory = human_used_of(s.memory_used, s.memory_total)
    disks = [(d, f"{human_bytes(d.free)} free") for d in s.disks]
    figure = max([len(memory)] + [len(text) for _d, text in disks])
    cells = bar_width(width, LABEL + 1 + figure)
    rows = [_row("MEM", s.memory_used / s.memory_total if s.memory_total else 0, memory, cells)]
    for disk, text in disks:
        used = (disk.total - disk.free) / disk.total if disk.total else 0
        rows.append(_row(disk.label, used, text, cells))
    return tuple(rows)


def render_rows(rows: tuple) -> Text:
    """The lines of `rows` as one text (a plain string is a dim note: waiting, more cores)."""
    text = Text(end="")
    for i, row in enumerate(rows):
        if i:
            text.append("\n")
        text.append_text(_line(row) if isinstance(row, tuple) else Text(row, style="dim"))
    return text


def cpu_text(state: UiState, width: int = WIDTH) -> Text:
    return render_rows(cpu_rows(state, width))


def memory_text(state: UiState, width: int = WIDTH) -> Text:
    return render_rows(memory_rows(state, width))


def _pieces(row: Row | str) -> list[tuple[str, str]]:
    """A line as (text, style) pieces: what `render_rows` draws for it."""
    if not isinstance(row, tuple):
        return [(row, "dim")]
    label, eighths, cells, style, figure, label_style = row
    filled, empty = eighths_cells(eighths, cells)
    return [(f"{label:<{LABEL}}", label_style), (filled, style), (empty, f"{style} dim"), (" " + figure, "")]


class Rows(Static):
    """Lines of a panel (rows as `render_rows` draws them), each drawn from segments kept per line: a
    second's new figures build only the lines that changed, without Textual's text layout. Styles are
    taken once from Textual's own rendering of the styles used; a line wider than the widget (it would
    wrap) is drawn by Static as before."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows: tuple = ()
        self._lines: dict = {}  # (line, row) -> its strip, at `_key`
        self._styles: dict[str, Style] = {}
        self._placed: dict[tuple[str, int, int], Style] = {}  # (style, x, y) -> the style with its offset
        self._key: tuple | None = None
        self._fit: tuple = ((), 0, False)  # (rows, width, every line fits)
        self.built = 0  # lines built from segments

    def show_rows(self, rows: tuple, layout: bool) -> None:
        self.rows = rows
        self.refresh(layout=layout)

    def render(self) -> Text:
        return render_rows(self.rows)

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            probe = Visual.to_strips(self, visualize(self, Text.assemble(("x", name))), 1, 1, self.visual_style)
            style = self._styles[name] = next(iter(probe[0])).style or Style()
        return style

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        key = (width, self.visual_style)
        if key != self._key:
            self._key, self._lines, self._styles, self._placed = key, {}, {}, {}
        if self._fit[:2] != (self.rows, width):
            fits = all(sum(cell_len(text) for text, _ in _pieces(row)) <= width for row in self.rows)
            self._fit = (self.rows, width, fits)
        if not self._fit[2] or not 0 <= y < len(self.rows):
            return super().render_line(y)  # a line wraps: Static lays them out
        row = self.rows[y]
        line = self._lines.get((y, row))
        if line is None:
            if len(self._lines) > 4 * len(self.rows):
                self._lines = {}
            if len(self._placed) > 4096:
                self._placed = {}
            segments, x = [], 0
            for text, style in _pieces(row):
                if text:  # each piece's place in the text, as Textual marks it for selecting text
                    placed = self._placed.get((style, x, y))
                    if placed is None:  # a style with meta is costly to make: kept per place
                        placed = self._placed[style, x, y] = self._style(style) + Style(meta={"offset": (x, y)})
                    segments.append(Segment(text, placed))
                    x += cell_len(text)
            line = self._lines[y, row] = Strip(segments)
            self.built += 1
        return line


class SystemPanel(Vertical):
    """Redrawn once a second at most (the dashboard's tick), and then only the parts whose shown lines
    changed: a sample that shows the same costs no repaint."""

    DEFAULT_CSS = """
    SystemPanel { height: auto; border: round $panel-lighten-2; padding: 0 1; }
    SystemPanel Sparkline { height: 2; margin: 0 0 1 0; }
    SystemPanel > Static { height: auto; }
    """

    def compose(self) -> ComposeResult:
        self._parts = {"cpu": Rows(id="cpu"), "memory": Rows(id="memory")}  # drawn every tick: kept, not queried
        self._history = CachedSparkline([], id="cpu-history")
        yield self._parts["cpu"]
        yield self._history
        yield self._parts["memory"]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: dict[str, tuple] = {}  # widget id -> the rows (or sparkline shape) it shows
        self._state: UiState | None = None
        self._resized: set[str] = set()  # lines that wrapped at the old width: their height is measured again
        self.draws: Counter[str] = Counter()  # updates per part (a sample that shows the same draws nothing)
        self._history_step: int | None = None  # the step of samples the history shows

    def _update(self, widget_id: str, rows: tuple) -> None:
        """Draw `rows` unless they are what is shown; a relayout only when the number of lines changed."""
        shown = self._shown.get(widget_id)
        if shown == rows:
            return
        self._shown[widget_id] = rows
        self.draws[widget_id] += 1
        layout = shown is None or len(shown) != len(rows) or widget_id in self._resized
        self._resized.discard(widget_id)
        self._parts[widget_id].show_rows(rows, layout=layout)

    def show(self, state: UiState) -> None:
        self._state = state
        width = self.content_size.width or WIDTH
        self._update("cpu", cpu_rows(state, width))
        history = self._history
        show = len(state.cpu) > 1  # one value draws as a full bar
        if history.display != show:
            history.display = show
        step = state.system_samples // STEP  # the history moves every few samples (sparkline.py)
        if show and step != self._history_step:
            self._history_step = step
            if history.show(state.cpu):  # drawn again only when its columns change
                self.draws["cpu-history"] += 1
        self._update("memory", memory_rows(state, width))

    def on_resize(self) -> None:
        self._resized.update(("cpu", "memory"))
        self._history_step = None  # the history's columns at the new width, now
        if self._state is not None:  # the bars follow the new width at once, not at the next tick
            self.show(self._state)
