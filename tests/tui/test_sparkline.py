"""The panels' cached sparkline (issue 17): Textual's look, its lines built once per change of what it shows."""

from __future__ import annotations

import random

from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.widgets import Sparkline

from aiui_tui.tui.widgets.sparkline import CachedSparkline


class Pair(App):
    CSS = """
    Sparkline { height: 2; width: 52; }
    #textual-tall, #cached-tall { height: 4; width: 37; }
    """

    def compose(self) -> ComposeResult:
        yield Sparkline([], id="textual")
        yield CachedSparkline([], id="cached")
        yield Sparkline([], id="textual-tall")
        yield CachedSparkline([], id="cached-tall")


def cells(widget) -> list[list[Segment]]:
    """What the widget draws, line by line, as runs of text in one style."""
    return [list(Segment.simplify(list(widget.render_line(y)))) for y in range(widget.size.height)]


async def test_the_cached_sparkline_draws_what_textual_s_sparkline_draws():
    """Same bars and colours for histories shorter than, as long as and longer than the columns."""
    app = Pair()
    async with app.run_test(size=(80, 20)) as pilot:
        rnd = random.Random(7)
        compared = 0
        for count in (0, 1, 2, 3, 10, 51, 52, 53, 100, 120):
            data = [rnd.choice((rnd.random() * 100, 5.0, 50.0)) for _ in range(count)]
            for name in ("textual", "cached", "textual-tall", "cached-tall"):
                app.query_one(f"#{name}").data = data
            await pilot.pause()
            for kind in ("", "-tall"):
                textual, cached = app.query_one(f"#textual{kind}"), app.query_one(f"#cached{kind}")
                assert cells(cached) == cells(textual), (count, kind)
                compared += 1
        assert compared == 20


async def test_the_cached_sparkline_is_built_once_per_sample_that_changes_its_columns():
    app = Pair()
    async with app.run_test(size=(80, 20)) as pilot:
        spark = app.query_one("#cached", CachedSparkline)
        history = [10.0, 20.0, 30.0]
        assert spark.show(history)
        await pilot.pause()
        builds = spark.builds
        assert builds >= 1 and "▁" in str(spark.render_line(1).text)
        # Painting it again (both lines) reuses the lines built.
        spark.render_line(0), spark.render_line(1)
        assert spark.builds == builds
        # The same columns (the same history, or one scaled the same way) are not drawn again.
        assert not spark.show(list(history))
        assert not spark.show([1.0, 2.0, 3.0])
        await pilot.pause()
        assert spark.builds == builds
        # A new sample that changes the columns: built once, for both lines.
        history.append(5.0)
        assert spark.show(history)
        await pilot.pause()
        spark.render_line(0), spark.render_line(1)
        assert spark.builds == builds + 1
        assert spark.data == history
        textual = app.query_one("#textual", Sparkline)
        textual.data = history
        await pilot.pause()
        assert cells(spark) == cells(textual)  # drawn from the columns `show` computed
