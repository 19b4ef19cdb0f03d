"""Textual's compositor, with partial updates that draw only the lines they change.

A partial update (a widget's figures changed) is drawn by Textual's compositor as: every widget whose
*container's* region overlaps the changed region is rendered over all its visible lines, then the
changed lines are kept. The screen, the columns and the header, status line and footer span the
screen: each update rendered them whole (~200 lines for the dashboard's 3-line CPU row, 4.3 ms of the
loop's CPU each second). Here a widget is rendered only where its own visible region meets the changed
region, and only those lines: what is written to the terminal is the same (tests/tui/test_compositor.py
compares both on the real screens).

The method replaced is Textual's `Compositor._render_chops` (pinned: textual <8.3 in pyproject.toml);
a full update passes the whole screen and draws as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise
from typing import cast

from textual._compositor import Compositor
from textual.geometry import Region
from textual.strip import Strip


class LineCroppedCompositor(Compositor):
    def _render_chops(self, crop: Region, is_rendered_line: Callable[[int], bool]) -> Sequence[Mapping[int, Strip]]:
        cuts = self.cuts
        chops: list[dict[int, Strip | None]] = [dict.fromkeys(cut_set[:-1]) for cut_set in cuts]
        intersection = Region.intersection
        crop_overlaps = crop.overlaps
        crop_left, crop_top, crop_right, crop_bottom = crop.x, crop.y, crop.right, crop.bottom
        # Front to back (the compositor's order): the first strip for a cut wins, as in Textual's.
        for widget, (region, clip) in self.visible_widgets.items():
            visible = intersection(region, clip)
            if not crop_overlaps(visible):
                continue  # it covers no cell that changed
            x, y, width, height = visible
            first_cut, last_cut = visible.column_span
            left, right = max(first_cut, crop_left), min(last_cut, crop_right)
            # Its lines that still show a cell of the changed region not drawn by a widget in front.
            lines = [
                line_y
                for line_y in range(max(y, crop_top), min(y + height, crop_bottom))
                if is_rendered_line(line_y)
                and _uncovered(chops[line_y], cuts[line_y], first_cut, last_cut, left, right)
            ]
            if not lines:
                continue  # hidden there by the widgets in front (a panel behind its own lines)
            top, bottom = lines[0], lines[-1] + 1
            strips = widget.render_lines(Region(x - region.x, top - region.y, width, bottom - top))
            for line_y, strip in zip(range(top, bottom), strips, strict=False):
                if not is_rendered_line(line_y):
                    continue
                chops_line = chops[line_y]
                final_cuts = [cut for cut in cuts[line_y] if last_cut >= cut >= first_cut]
                get = chops_line.get
                for cut, piece in zip(final_cuts, strip.divide([cut - x for cut in final_cuts[1:]]), strict=False):
                    if get(cut) is None:
                        chops_line[cut] = piece
        return cast("Sequence[Mapping[int, Strip]]", chops)


def _uncovered(
    chops_line: dict[int, Strip | None], line_cuts: list[int], first: int, last: int, left: int, right: int
) -> bool:
    """Whether a piece of this line between the cuts `first` and `last` that meets columns [left, right)
    has no strip yet."""
    for start, end in pairwise(line_cuts):
        if start >= last or start >= right:
            return False
        if start >= first and end > left and chops_line.get(start) is None:
            return True
    return False
