"""The screens' compositor (aiui_tui/tui/compositor.py) writes to the terminal exactly what Textual's own
would, for any region that changed, on every screen; and it renders only the widgets that show a changed
cell (the issue-17 saving: a CPU row's change no longer renders the screen, header and footer)."""

from __future__ import annotations

import random
import re

from rich.cells import cell_len
from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region

from aiui_tui.tui.app import make_app
from aiui_tui.tui.compositor import LineCroppedCompositor
from aiui_tui.tui.screens.dashboard import DashboardScreen
from aiui_tui.tui.widgets.system_panel import Rows, SystemPanel
from tests.tui.conftest import running_services, until


def written(compositor: Compositor, render_chops, regions: list[Region], console) -> str:
    """What a partial update of `regions` writes to the terminal, its lines rendered by `render_chops`."""
    crop = Region.from_union(regions).intersection(compositor.size.region)
    spans = list(compositor._regions_to_spans(regions))
    chops = render_chops(compositor, crop, {y for y, _, _ in spans}.__contains__)
    return ChopsUpdate(chops, spans, [cuts[1:] for cuts in compositor.cuts]).render_segments(console)


TOKEN = re.compile(r"\x1b\[([0-9;]*)([Hm])|\x1b\]8;[^\x1b]*\x1b\\|(\n)|([^\x1b\n]+)")


def cells(data: str) -> dict[tuple[int, int], tuple[str, str]]:
    """The cells that terminal output writes: (line, column) -> (character, its styles and link)."""
    drawn: dict[tuple[int, int], tuple[str, str]] = {}
    y = x = read = 0
    style = link = ""
    for match in TOKEN.finditer(data):
        read += len(match.group(0))
        params, command, newline, text = match.groups()
        if command == "H":
            y, x = (int(n) - 1 for n in params.split(";"))
        elif command == "m":
            style = "" if params in ("", "0") else f"{style};{params}"
        elif newline:
            y, x = y + 1, 0
        elif text is not None:
            for char in text:
                drawn[y, x] = (char, f"{style}|{link}")
                x += 1 if char.isascii() else cell_len(char)
        else:
            link = match.group(0)
    assert read == len(data), "an escape sequence this test cannot read"
    return drawn


def regions_to_try(compositor: Compositor, rng: random.Random) -> list[list[Region]]:
    """Each widget's region as a widget's refresh dirties it, those clipped by their containers, edges
    straddled, random rectangles, pairs of them, and the whole screen."""
    screen = compositor.size.region
    tried: list[list[Region]] = [[screen]]
    for region, clip in compositor.visible_widgets.values():
        tried += [
            [region.intersection(screen)],
            [region.intersection(clip)],
            [region.grow((1, 1, 1, 1)).intersection(screen)],
        ]
    for _ in range(30):
        x, y = rng.randrange(screen.width), rng.randrange(screen.height)
        tried.append([Region(x, y, rng.randint(1, screen.width - x), rng.randint(1, min(4, screen.height - y)))])
    for _ in range(10):
        tried.append([rng.choice(tried)[0], rng.choice(tried)[0]])
    return [[r for r in regions if r.area] for regions in tried if any(r.area for r in regions)]


async def test_every_partial_update_writes_what_textual_s_compositor_writes(layout, clean_env):
    rng = random.Random(17)
    async with running_services(layout, run_downloads=False) as services:
        app = make_app(services)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.screen.query(SystemPanel), what="the dashboard's panels")
            app.notify("a toast over the screen", timeout=60)  # a layer above the screen's widgets
            await pilot.pause(0.2)
            checked = 0
            for key in "12345":
                await pilot.press(key)
                await pilot.pause(0.3)
                screen = app.screen
                if key == "1":
                    screen.query_one("#cards").scroll_to(y=3, animate=False)  # a card cut by its container
                    await pilot.pause(0.1)
                compositor = screen._compositor
                assert isinstance(compositor, LineCroppedCompositor), type(screen).__name__
                for regions in regions_to_try(compositor, rng):
                    ours = written(compositor, LineCroppedCompositor._render_chops, regions, app.console)
                    textual_s = written(compositor, Compositor._render_chops, regions, app.console)
                    assert ours == textual_s or cells(ours) == cells(textual_s), (type(screen).__name__, regions)
                    checked += 1
            assert checked > 300


async def test_a_changed_row_renders_only_the_widgets_that_show_it(layout, clean_env):
    async with running_services(layout, run_downloads=False) as services:
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.screen.query(SystemPanel), what="the dashboard's panels")
            screen = app.screen
            assert isinstance(screen, DashboardScreen)
            rendered: list[str] = []
            for widget in [screen, *screen.walk_children()]:
                original = widget.render_lines
                widget.render_lines = lambda crop, w=widget, f=original: (rendered.append(type(w).__name__), f(crop))[1]
            cpu = screen.query_one("#cpu", Rows)
            written(screen._compositor, LineCroppedCompositor._render_chops, [cpu.region], app.console)
            assert rendered == ["Rows"]  # not the panel behind it, the column, the screen, header or footer
            rendered.clear()
            written(screen._compositor, Compositor._render_chops, [cpu.region], app.console)
            assert {"DashboardScreen", "Header", "KeysFooter", "SystemPanel", "Rows"} <= set(rendered)
