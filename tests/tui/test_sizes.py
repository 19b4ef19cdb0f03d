"""Every screen is usable on the classic 80x24 terminal and uses the room at 200x60.

What the user sees is read from the screen as drawn (the compositor's text, as in a screenshot):
the footer always shows "? Help" and "q Quit"; the status line keeps the engine's state; app cards
are at least 40 cells wide and sit side by side when there is room; the panels' lines do not wrap;
a setting's selector shows its value on one line inside its border; dialogs stay inside the terminal.
"""

from __future__ import annotations

import io

from rich.console import Console
from textual.widgets import Select

from aiui_tui.tui.widgets.app_card import AppCard
from tests.tui.conftest import until
from tests.tui.test_snapshots import cards_shown, prepared_app

MIN_CARD = 40


def screen_lines(app) -> list[str]:
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text().splitlines()


def assert_footer_keeps_help_and_quit(app, where: str) -> None:
    footer = screen_lines(app)[-1]
    assert "? Help" in footer and "q Quit" in footer, f"{where} at {app.size}: footer {footer!r}"


def assert_inside(app, widget, where: str) -> None:
    region = widget.region
    assert region.width > 0 and region.right <= app.size.width, f"{where}: {widget!r} at {region} in {app.size}"


async def test_every_screen_fits_the_terminal(tmp_path, clean_env):
    """80x24 first, then the same session resized to 200x60 and 140x45 (screens shown before follow the new size)."""
    async with prepared_app(tmp_path / "root") as app, app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ui.engine_ok is False and cards_shown(app), what="the cards")
        for size in ((80, 24), (200, 60)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.2)
            await check_every_screen(app, pilot, size)
        await pilot.resize_terminal(140, 45)  # where the dashboard's, models' and downloads' footers cut "? Help"
        for key, name in (("1", "dashboard"), ("2", "models"), ("3", "downloads")):
            await pilot.press(key)
            await until(pilot, lambda name=name: type(app.screen).__name__.lower().startswith(name), what=name)
            await pilot.pause(0.1)
            assert_footer_keeps_help_and_quit(app, name)


async def check_every_screen(app, pilot, size: tuple[int, int]) -> None:
    width, _height = size
    # Dashboard: readable cards, more than one per row on a wide terminal; panels without wrapped lines.
    assert_footer_keeps_help_and_quit(app, "dashboard")
    cards = list(app.screen.query(AppCard))
    for card in cards:
        assert card.region.width >= MIN_CARD, f"card {card.app_name} is {card.region.width} cells wide at {size}"
        assert_inside(app, card, "dashboard")
    rows = {card.region.y for card in cards}
    assert len(rows) == (2 if width >= 180 else 3), f"cards at rows {sorted(rows)} at {size}"
    lines = screen_lines(app)
    assert "Docker: not reachable" in lines[1], f"status line {lines[1]!r} at {size}"  # the root is long here
    assert any("MEM" in line and "9.0/24.0 GiB" in line for line in lines), f"the memory line wrapped at {size}"
    assert any("VRAM" in line and "18.0/24.0 GiB" in line for line in lines), f"the VRAM line wrapped at {size}"

    await pilot.press("question_mark")
    await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen", what="the help")
    assert_inside(app, app.screen.query_one("VerticalScroll"), "help")
    assert_footer_keeps_help_and_quit(app, "help over the dashboard")
    await pilot.press("escape")

    await pilot.press("l")
    await until(pilot, lambda: type(app.screen).__name__ == "AppDetailScreen", what="the app detail")
    await pilot.pause(0.1)
    assert_footer_keeps_help_and_quit(app, "app detail")
    await pilot.press("escape")

    for key, name in (("2", "models"), ("3", "downloads"), ("4", "logs")):
        await pilot.press(key)
        await until(pilot, lambda name=name: type(app.screen).__name__.lower().startswith(name), what=name)
        await pilot.pause(0.1)
        assert_footer_keeps_help_and_quit(app, name)

    await pilot.press("5")
    await until(pilot, lambda: len(app.screen.query("#app-options Select")) == 9, what="the options")
    await pilot.pause(0.2)
    assert_footer_keeps_help_and_quit(app, "settings")
    for select in app.screen.query(Select):
        assert_inside(app, select, "settings")
        label = select.query_one("SelectCurrent #label")
        assert label.region.height == 1, f"{select.id}'s value takes {label.region.height} lines at {size}"

    await pilot.press("1", "w")
    await until(pilot, lambda: type(app.screen).__name__ == "WizardScreen", what="the wizard")
    await pilot.pause(0.1)
    assert_footer_keeps_help_and_quit(app, "wizard")
    await pilot.press("escape", "1")
    await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen", what="the dashboard")
