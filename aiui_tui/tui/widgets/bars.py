"""Text bars for progress and meters (one cell per 1/width, eighths for the partial cell)."""

from __future__ import annotations

from rich.text import Text

_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(fraction: float | None, width: int = 20, style: str = "cyan") -> Text:
    if fraction is None:
        return Text("░" * width, style="dim")
    fraction = min(max(fraction, 0.0), 1.0)
    cells = fraction * width
    full = int(cells)
    partial = _EIGHTHS[int((cells - full) * 8)] if full < width else ""
    text = Text("█" * full + partial.strip(), style=style)
    text.append("░" * (width - len(text.plain)), style="dim")
    return text


def bar_width(room: int, taken: int, least: int = 6, most: int = 24) -> int:
    """Cells for a bar on a line `room` cells wide of which the rest takes `taken`."""
    return max(least, min(most, room - taken))


def meter_style(percent: float) -> str:
    return "green" if percent < 60 else "yellow" if percent < 85 else "red"
