"""Text bars for progress and meters (one cell per 1/width, eighths for the partial cell)."""

from __future__ import annotations

from rich.text import Text

_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(fraction: float | None, width: int = 20, style: str = "cyan") -> Text:
    if fraction is None:
        return Text("░" * width, style="dim")
    return eighths_bar(bar_eighths(fraction, width), width, style)


def bar_eighths(fraction: float, width: int) -> int:
    """How much of a `width`-cell bar `fraction` fills, in eighths of a cell (what the bar shows)."""
    cells = min(max(fraction, 0.0), 1.0) * width
    full = int(cells)
    return 8 * full + (int((cells - full) * 8) if full < width else 0)


def eighths_bar(eighths: int, width: int, style: str = "cyan") -> Text:
    filled, empty = eighths_cells(eighths, width)
    text = Text(filled, style=style)
    text.append(empty, style="dim")
    return text


def eighths_cells(eighths: int, width: int) -> tuple[str, str]:
    """The bar's filled cells and its empty ones, as `eighths_bar` draws them (without building a text)."""
    full, part = divmod(eighths, 8)
    filled = "█" * full + _EIGHTHS[part].strip()
    return filled, "░" * (width - len(filled))


def bar_width(room: int, taken: int, least: int = 6, most: int = 24) -> int:
    """Cells for a bar on a line `room` cells wide of which the rest takes `taken`."""
    return max(least, min(most, room - taken))


def meter_style(percent: float) -> str:
    return "green" if percent < 60 else "yellow" if percent < 85 else "red"
