"""The Models screen under Pilot: the columns that matter fit an 80x24 terminal and every column shows at
200x60; library file operations show a progress bar on the screen and in the status line."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Static

from aiui_tui.core.events import FileOpProgress
from aiui_tui.tui.app import make_app
from aiui_tui.tui.screens.models import ModelsScreen, fit_columns
from aiui_tui.tui.widgets.file_progress import FileProgress
from aiui_tui.tui.widgets.status_line import StatusLine
from tests.library.conftest import SDXL_KEYS, make_model
from tests.toasts import record_toasts, toast_text  # noqa: F401 (record_toasts: an autouse fixture)
from tests.tui.conftest import running_services, until

ALL = ["Name", "Kind", "Arch", "Size", "Source", "Status", "Apps"]


def test_columns_are_kept_by_priority_and_name_takes_the_rest():
    assert list(fit_columns(40)) == ["name", "kind"]
    assert list(fit_columns(76)) == ["name", "kind", "size", "status"]
    wide = fit_columns(200)
    assert list(wide) == ["name", "kind", "arch", "size", "source", "status", "apps"]
    assert wide["name"] == 200 - sum(w + 2 for k, w in wide.items() if k != "name") - 2


@pytest.mark.parametrize(
    ("size", "columns", "stacked"),
    [((80, 24), ["Name", "Kind", "Size", "Status"], True), ((200, 60), ALL, False)],
)
async def test_the_table_shows_the_useful_columns_at_80x24_and_all_at_200x60(layout, clean_env, size, columns, stacked):
    async with running_services(layout, run_downloads=False) as services:
        app = make_app(services)
        async with app.run_test(size=size) as pilot:
            await pilot.press("2")
            screen = app.screen
            assert isinstance(screen, ModelsScreen)
            table = screen.query_one(DataTable)
            await until(pilot, lambda: table.row_count > 0, what="catalog rows")
            await pilot.pause()
            assert [str(c.label) for c in table.columns.values()] == columns
            # Every column is on screen: nothing hides behind a horizontal scroll.
            assert table.virtual_size.width <= table.scrollable_content_region.width
            assert table.max_scroll_x == 0
            assert screen.has_class("-stacked") is stacked
            details = screen.query_one("#details", Static)
            assert details.region.height >= 5 and details.region.width >= (76 if stacked else 60)
            assert table.region.height >= 8  # rows of results stay visible above the details
            row = table.get_row_at(0)
            assert str(row[columns.index("Kind")]) in ("checkpoints", "loras", "vae", "upscale_models", "controlnet")


async def test_file_operations_show_progress_on_the_screen_and_in_the_status_line(layout, clean_env):
    async with running_services(layout, run_downloads=False) as services:
        app = make_app(services)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("2")
            screen = app.screen
            bar = screen.query_one(FileProgress)
            assert not bar.display  # nothing under way: no room taken

            mib = 1024**2
            services.bus.publish(
                FileOpProgress("verify-x", "verify", 1, 3, 96 * mib, 256 * mib, "/m/checkpoints/big.safetensors")
            )
            await until(pilot, lambda: bar.display, what="the progress bar")
            text = render_text(bar, 100)
            assert "Verifying" in text and "1/3 files" in text and "96.0 MiB / 256.0 MiB" in text and "37%" in text
            assert "big.safetensors" in text
            assert "Verifying 1/3 37%" in render_text(screen.query_one(StatusLine), 100)

            await pilot.press("1")  # the status line of every screen says it
            await until(
                pilot, lambda: "Verifying 1/3" in render_text(app.screen.query_one(StatusLine), 100), what="status"
            )
            services.bus.publish(FileOpProgress("verify-x", "verify", 3, 3, 256 * mib, 256 * mib, "", finished=True))
            await until(
                pilot, lambda: "Verifying" not in render_text(app.screen.query_one(StatusLine), 100), what="cleared"
            )
            await pilot.press("2")
            await until(pilot, lambda: not bar.display, what="the bar gone once finished")


def render_text(widget, width: int) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(widget.render())
    return console.export_text()


async def test_the_update_check_toast_says_nothing_could_be_checked(layout, clean_env):
    """Models added by hand have no source to ask: the toast says so instead of "0 updates available"."""
    make_model(layout.kind_dir("checkpoints") / "mine.safetensors", SDXL_KEYS)
    async with running_services(layout, run_downloads=False) as services:
        await services.library.settle()  # the start-up scan indexed it
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2", "U")
            toasts = lambda: toast_text(app)  # noqa: E731
            await until(pilot, lambda: "Nothing could be checked" in toasts(), what="the update toast")
            assert "Nothing could be checked (0 checked; 1 have no HuggingFace or CivitAI source to check)" in toasts()
            assert "up to date" not in toasts() and "updates available" not in toasts()
