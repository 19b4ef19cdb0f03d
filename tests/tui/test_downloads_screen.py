"""The Downloads screen under Pilot on real services: another process's queue changes, the detail
view, the add dialog (key and palette), the cursor on reorder, the part's real size on cancel."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from textual.command import CommandList
from textual.widgets import DataTable, Input, Select, Static

from aiui_tui.bus import Bus
from aiui_tui.core.downloads import DownloadItem
from aiui_tui.core.events import DownloadQueueChanged, DownloadStateChanged
from aiui_tui.core.requests import DownloadRequest
from aiui_tui.services import make_downloads
from aiui_tui.tui.app import make_app
from aiui_tui.tui.screens.downloads import DownloadsScreen
from aiui_tui.tui.state import UiState
from aiui_tui.tui.widgets.add_download import AddDownloadDialog
from aiui_tui.tui.widgets.confirm import ConfirmScreen
from aiui_tui.tui.widgets.download_detail import DownloadDetail
from tests.conftest import load_services_inputs
from tests.downloads.conftest import payload
from tests.downloads.fault_server import Fault, fault_server
from tests.toasts import toasts
from tests.tui.conftest import cell_texts, running_services, until

MiB = 1024 * 1024


@pytest.fixture
async def server():
    async with fault_server() as s:
        yield s


@pytest.fixture
async def other_process(layout, clean_env):
    """A second download service on the same root, as `aiui-tui downloads add` in another shell."""
    config, credentials = load_services_inputs(layout)
    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    service = make_downloads(layout, config, credentials, bus)
    await service.start(run_queue=False)
    yield service
    await service.close()


def names(app) -> list[str]:
    return [row[0] for row in cell_texts(app.screen.query_one(DataTable))]


def text_of(widget: Static) -> str:
    return str(widget.render())


def shown_lines(widget) -> list[str]:
    """The widget's lines as drawn on the screen (wrapped as the terminal shows them)."""
    return [widget.render_line(y).text.rstrip() for y in range(widget.size.height)]


async def test_a_queue_add_from_another_process_shows_without_a_restart(layout, clean_env, other_process):
    async with running_services(layout, run_downloads=False) as services:
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("3")
            assert isinstance(app.screen, DownloadsScreen) and names(app) == []
            await pilot.press("1")  # on the dashboard when the other process adds
            url = "http://127.0.0.1:9/f/cli.safetensors"
            item = await other_process.enqueue(DownloadRequest(url=url, kind="loras"))
            await until(pilot, lambda: item.id in app.ui.downloads, what="the state to see the new item")
            await pilot.press("3")
            await until(pilot, lambda: names(app) == ["cli.safetensors"], what="the row")
            await other_process.cancel(item.id)  # and a removal elsewhere goes too
            await until(pilot, lambda: names(app) == [], what="the row to go")


async def test_enter_shows_the_whole_reason_and_esc_closes(layout, clean_env, server):
    async with running_services(layout) as services:
        app = make_app(services)
        async with app.run_test(size=(80, 24)) as pilot:
            url = f"{server.base}/f/" + "a-very-long-folder-name/" * 4 + "missing.safetensors"
            await services.downloads.enqueue(DownloadRequest(url=url, kind="checkpoints"))
            await pilot.press("3")
            table = app.screen.query_one(DataTable)
            await until(pilot, lambda: cell_texts(table) and cell_texts(table)[0][1] == "failed", what="failed")
            table.focus()
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, DownloadDetail), what="the detail view")
            lines = shown_lines(app.screen.query_one("#fields", Static))
            values = "".join(line[line.index("  ") :].strip() if "  " in line else line for line in lines)
            assert url in values and "Not found (HTTP 404)" in values  # the whole reason, folded, not cut
            assert "check the URL" in values and str(layout.kind_dir("checkpoints")) in values
            assert any(line.split() == ["Attempts", "1"] for line in lines), lines
            await pilot.press("escape")
            assert isinstance(app.screen, DownloadsScreen)


async def test_reordering_moves_the_cursor_with_the_item(layout, clean_env):
    async with running_services(layout, run_downloads=False) as services:
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            for name in ("one", "two", "three"):
                url = f"http://127.0.0.1:9/f/{name}.safetensors"
                await services.downloads.enqueue(DownloadRequest(url=url, kind="loras"))
            await pilot.press("3")
            table = app.screen.query_one(DataTable)
            await until(pilot, lambda: table.row_count == 3, what="three rows")
            table.focus()
            await pilot.press("down", "down")
            assert table.cursor_row == 2
            await pilot.press("left_square_bracket")
            await until(pilot, lambda: names(app)[1] == "three.safetensors", what="the move")
            assert table.cursor_row == 1
            await pilot.press("left_square_bracket")
            await until(pilot, lambda: names(app)[0] == "three.safetensors", what="the second move")
            assert table.cursor_row == 0
            await pilot.press("right_square_bracket")
            await until(pilot, lambda: names(app)[1] == "three.safetensors", what="the move down")
            assert table.cursor_row == 1


async def test_add_a_url_with_the_checks_of_queue_add(layout, clean_env, server):
    data = payload(1000)
    url = server.add("added.bin", data)
    async with running_services(layout) as services:
        app = make_app(services)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("3", "a")
            assert isinstance(app.screen, AddDownloadDialog)
            dialog = app.screen
            error = dialog.query_one("#error", Static)
            await pilot.press(*"ftp://x", "enter")
            assert text_of(error).startswith("Not an http(s) URL: 'ftp://x'") and "\n" not in text_of(error)
            dialog.query_one("#url", Input).value = url
            dialog.query_one("#sha256", Input).value = "abc"
            await pilot.press("enter")
            assert "sha256 must be 64 hexadecimal characters" in text_of(error)
            assert isinstance(app.screen, AddDownloadDialog)  # what was typed stays
            assert dialog.query_one("#url", Input).value == url
            dialog.query_one("#sha256", Input).value = ""
            # No kind: not a library model, so it goes where a browser puts files (never the cwd).
            import platformdirs

            assert dialog.query_one("#kind", Select).prompt == f"none: save in {platformdirs.user_downloads_path()}"
            assert dialog.request().dest_dir == platformdirs.user_downloads_path()
            dialog.query_one("#kind", Select).value = "loras"
            dialog.query_one("#url", Input).focus()
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, DownloadsScreen), what="the dialog to close")
            await until(pilot, lambda: "Queued added.bin." in [n.message for n in toasts(app)], what="toast")
            await until(pilot, lambda: cell_texts(app.screen.query_one(DataTable))[0][1] == "done", what="done")
            assert (layout.kind_dir("loras") / "added.bin").read_bytes() == data
            from tests.tui.test_sizes import screen_lines

            await pilot.pause()  # cells that grew (100%, the size) widen their columns, not cut them
            row = next(line for line in screen_lines(app) if "added.bin" in line)
            assert "100%" in row and "1000 B" in row, row

            await pilot.press("1", "ctrl+p")  # the palette opens it from anywhere
            app.screen.query_one(Input).value = "Add a download"
            commands = app.screen.query_one(CommandList)
            await until(
                pilot,
                lambda: commands.option_count and "Add a download" in str(commands.get_option_at_index(0).prompt),
                what="the command",
            )
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, AddDownloadDialog), what="the dialog from the palette")
            await pilot.press("escape")
            assert isinstance(app.screen, DownloadsScreen)


async def test_the_cancel_question_gives_the_part_size_on_disk(layout, clean_env, server):
    data = payload(8 * MiB)
    url = server.add("slow.bin", data, Fault(rate=MiB))
    async with running_services(layout, downloads__connections=1) as services:
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            item = await services.downloads.enqueue(DownloadRequest(url=url, kind="loras"))
            await pilot.press("3")
            await until(pilot, lambda: server.bytes_sent("slow.bin") >= 2 * MiB, what="2 MiB downloaded")
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
            question = app.screen.question
            kept = await services.downloads.kept_bytes(item.id)
            assert kept >= MiB and "(0 B)" not in question and "MiB) is deleted" in question, question
            await pilot.press("n")


def test_a_snapshot_keeps_a_row_this_process_changed_after_it_was_read():
    ui = UiState("/r")
    old = DownloadItem("d1", "http://x/a", "/m", "a", "active", 1.0, updated_at=10.0)
    ui.apply(DownloadStateChanged("d1", "active", old))
    done = dataclasses.replace(old, state="done", updated_at=12.0)
    ui.apply(DownloadStateChanged("d1", "done", done))
    added = DownloadItem("d2", "http://x/b", "/m", "b", "pending", 2.0, updated_at=11.0)
    ui.apply(DownloadQueueChanged((old, added)))  # read before d1 finished
    assert ui.downloads["d1"].state == "done" and ui.downloads["d2"] == added
    ui.apply(DownloadQueueChanged(()))
    assert ui.downloads == {}


async def test_a_long_name_gives_way_on_80_columns_so_speed_and_eta_show(layout, server, clean_env):
    """At 80x24 a long name is cut (the detail view has it whole) and the bar is shorter, so the
    speed and ETA of an active item are on screen; at 200 columns the name is whole again."""
    from tests.tui.test_sizes import screen_lines

    name = "juggernautXL_v8Rundiffusion_with_a_long_name_v2.bin"
    url = server.add(name, payload(8 * MiB), Fault(rate=256 * 1024))
    async with running_services(layout) as services:
        app = make_app(services)
        async with app.run_test(size=(80, 24)) as pilot:
            await services.downloads.enqueue(DownloadRequest(url=url, kind="loras", name=name))
            await pilot.press("3")
            table = app.screen.query_one(DataTable)
            await until(pilot, lambda: names(app) and cell_texts(table)[0][5] != "", what="an ETA")

            def row_on_screen() -> str:
                return next((line for line in screen_lines(app) if "juggernautXL" in line), "")

            def speed_and_eta_shown() -> bool:
                _name, _state, _bar, _size, speed, eta, _reason = cell_texts(table)[0]
                line = row_on_screen()
                return bool(speed and eta) and speed in line and line.index(speed) < line.index(eta, line.index(speed))

            await until(pilot, speed_and_eta_shown, what="the speed and the ETA on screen")
            assert name not in row_on_screen() and names(app)[0].endswith("…")
            await pilot.resize_terminal(200, 60)
            await until(pilot, lambda: names(app) == [name], what="the whole name at 200 columns")
            await until(pilot, lambda: name in row_on_screen(), what="the whole name on screen")
