"""The system panel's lines drawn from cached segments (issue 17): what a Static with the same text draws,
and only the lines whose row changed are built again."""

from __future__ import annotations

import random

from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from aiui_tui.tui.widgets.system_panel import Rows, _row, render_rows


class Pair(App):
    CSS = """
    Vertical { height: auto; width: 44; border: round $panel-lighten-2; padding: 0 1; }
    Static { height: auto; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(id="static")
        with Vertical():
            yield Rows(id="rows")


def cells(widget) -> list[list[Segment]]:
    return [list(Segment.simplify(list(widget.render_line(y)))) for y in range(widget.size.height)]


def some_rows(rnd: random.Random, count: int, cells: int = 22) -> tuple:
    rows: list = [_row("CPU", rnd.random(), f"{100 * rnd.random():5.1f}%", cells)]
    rows += [_row(f" core {i}", rnd.choice((0.0, 1.0, rnd.random())), "  7.0%", cells, "dim") for i in range(count)]
    return (*rows, f" … {count} more cores")


async def test_rows_draw_what_a_static_with_their_text_draws():
    app = Pair()
    async with app.run_test(size=(100, 40)) as pilot:
        static, rows = app.query_one("#static", Static), app.query_one("#rows", Rows)
        rnd = random.Random(3)
        for count in (0, 1, 4, 16):
            shown = some_rows(rnd, count)
            static.update(render_rows(shown))
            rows.show_rows(shown, layout=True)
            await pilot.pause()
            assert rows.size == static.size
            assert cells(rows) == cells(static), count
        assert rows.built > 0
        # A line too wide for the widget wraps, as in a Static.
        shown = (_row("outputs-and-more", 0.5, "999.9 GiB free", 24), "CPU: waiting for the first sample…")
        static.update(render_rows(shown))
        rows.show_rows(shown, layout=True)
        await pilot.pause()
        assert rows.size.height == static.size.height > 2
        assert cells(rows) == cells(static)


async def test_rows_build_only_the_lines_whose_row_changed():
    app = Pair()
    async with app.run_test(size=(100, 40)) as pilot:
        rows = app.query_one("#rows", Rows)
        shown = some_rows(random.Random(5), 4)
        rows.show_rows(shown, layout=True)
        await pilot.pause()
        built = rows.built
        assert built == len(shown)
        changed = (_row("CPU", 0.99, " 99.0%", 22), *shown[1:])
        rows.show_rows(changed, layout=False)
        await pilot.pause()
        for y in range(len(changed)):  # a repaint of every line (the compositor's) builds only the new one
            rows.render_line(y)
        assert rows.built == built + 1
        assert "99.0%" in rows.render_line(0).text
