"""Textual's sparkline drawn from cached lines: the same look, built once per change of what it shows.

Textual's Sparkline renders a rich renderable on every repaint (fractions per bucket, a colour blend per
column, then the console's render pipeline): with a panel's history sliding once a second that was a
seventh of the idle dashboard's main thread. This one computes each column's bar once per new sample
(or resize, or style change), keeps the lines as strips, and skips a new sample that shows the same.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widgets import Sparkline

BARS = "▁▂▃▄▅▆▇█"
# The panels draw a history again every STEP samples (3 s), not every second: its columns hold a few
# seconds each, so each new sample moved them all, and the sparkline was the idle dashboard's largest
# repaint. The figure above each history shows the latest sample at once.
STEP = 3


def columns(data: Sequence[float], width: int, height: int) -> tuple[tuple[int, float], ...]:
    """Per column, (the bar in eighths of a line, less one; the value's place between min and max), as
    Textual's sparkline computes them: `width` buckets of `data`, each shown by its highest value."""
    count = len(data)
    if count < 2 or width <= 0:
        return ()
    lo, hi = min(data), max(data)
    extent = hi - lo or 1
    levels = 8 * height - 1
    # Textual's buckets: data[int(n/w * b):int(n/w * (b + 1))], empty ones left out (fewer values than columns).
    buckets = [data[count * b // width : count * (b + 1) // width] for b in range(width)]
    peaks = [max(bucket) for bucket in buckets if bucket]
    step = len(peaks) / width
    shown = []
    index = 0.0
    for _ in range(width):
        ratio = (peaks[int(index)] - lo) / extent
        shown.append((int(ratio * levels), ratio))
        index += step
    return tuple(shown)


class CachedSparkline(Sparkline):
    """A Sparkline whose lines are built once per change (data, size or style), not on every repaint.

    `builds` counts the lines built: a repaint of the panel around it (another widget's change) reuses
    them, and `show(data)` with data that draws the same columns changes nothing."""

    def __init__(self, *args, **kwargs) -> None:
        self._lines: list[Strip] | None = None
        self._columns: tuple | None = None
        self.builds = 0
        self._styles: dict[tuple[int, int, int], Style] = {}
        self._styles_key: tuple | None = None
        super().__init__(*args, **kwargs)

    def show(self, data: Sequence[float]) -> bool:
        """Show `data` unless it draws the columns shown now; True when it will be drawn again."""
        data = list(data)
        shape = (self.size, columns(data, self.size.width, self.size.height), len(data) > 1)
        if self._columns is not None and shape == self._columns[:3] and self.data is not None:
            return False
        self._columns = (*shape, data)
        self.data = data
        return True

    def refresh(self, *regions, repaint: bool = True, layout: bool = False, recompose: bool = False):
        if repaint:
            self._lines = None  # new data, size or style: built again when next painted
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def render_line(self, y: int) -> Strip:
        if self._lines is None or len(self._lines) != self.size.height:
            self._lines = self._build()
        if 0 <= y < len(self._lines):
            return self._lines[y]
        return Strip.blank(self.size.width, self.visual_style.rich_style)

    def _build(self) -> list[Strip]:
        """The lines Textual's Sparkline draws for the data now (same bars, colours and base style)."""
        self.builds += 1
        width, height = self.size
        base = self.visual_style.rich_style  # what Textual puts under a rendered renderable
        _, background = self.background_colors
        low = background + (self.min_color or self.get_component_styles("sparkline--min-color").color)
        high = background + (self.max_color or self.get_component_styles("sparkline--max-color").color)
        data = list(self.data or [])
        if len(data) < 2:  # nothing to compare: a flat line, or one value as a full bar
            char, color = ("▁", low) if not data else ("█", high)
            line = Strip([Segment(char * width, base + Style(color=color.rich_color))])
            return [Strip([])] * (height - 1) + [line] if not data else [line] * height
        # A style per colour, kept while the colours are the same: the gradient has few distinct steps.
        key = (base, low, high)
        if self._styles_key != key or len(self._styles) > 1024:
            self._styles_key, self._styles = key, {}
        styles = self._styles
        r1, g1, b1 = low.rgb
        r2, g2, b2 = high.rgb
        blank = Style()
        lines = []
        if self._columns is not None and self._columns[3] is self.data and self._columns[0] == self.size:
            shown = self._columns[1]  # what `show` computed for this data at this size
        else:
            shown = columns(data, width, height)
        placed = []  # per column: its bar in eighths, its style (one blend per column, not per line)
        for level, ratio in shown:
            # blend_colors(low, high, ratio), as Textual's sparkline colours a column
            rgb = (int(r1 + (r2 - r1) * ratio), int(g1 + (g2 - g1) * ratio), int(b1 + (b2 - b1) * ratio))
            style = styles.get(rgb)
            if style is None:
                style = styles[rgb] = base + Style(color=Color.from_rgb(*rgb))
            placed.append((level, style))
        for row in reversed(range(height)):
            floor, ceiling = 8 * row, 8 * (row + 1)
            segments: list[Segment] = []
            text, last = "", blank  # one segment per run of columns in the same style
            for level, color in placed:
                if level < floor:
                    char, style = " ", base
                else:
                    char, style = ("█" if level >= ceiling else BARS[level % 8]), color
                if style is last:
                    text += char
                else:
                    if text:
                        segments.append(Segment(text, last))
                    text, last = char, style
            if text:
                segments.append(Segment(text, last))
            lines.append(Strip(segments, width))
        return lines
