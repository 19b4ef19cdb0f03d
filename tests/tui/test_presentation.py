"""One state -> label and colour table (core/presentation.py) for the CLI and the TUI: every state has
its entry, and `app status` / `downloads list` say what the dashboard's card and the Downloads screen say."""

from __future__ import annotations

import asyncio
import json

import pytest
from textual.widgets import DataTable

from aiui_tui.core.apps import AppState
from aiui_tui.core.downloads import DownloadState
from aiui_tui.core.presentation import APP_STATES, DOWNLOAD_STATES, app_state, download_state
from aiui_tui.tui.app import make_app
from tests.tui.conftest import cell_texts, running_services, until


def test_every_state_has_a_label_and_a_colour():
    for table, enum in ((APP_STATES, AppState), (DOWNLOAD_STATES, DownloadState)):
        assert list(table) == list(enum), f"{enum.__name__}: a state without its entry, or one out of order"
        assert all(look.label and look.style for look in table.values())
    assert app_state("not created").label == "stopped" and app_state(AppState.STARTING).label == "waiting for UI"
    assert download_state("paused") == DOWNLOAD_STATES[DownloadState.PAUSED]
    with pytest.raises(ValueError):
        app_state("sleeping")  # not a state: said at once, not shown as an unstyled word


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    from aiui_tui.cli.main import main

    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.docker
async def test_the_cli_and_the_dashboard_show_an_app_state_with_the_same_label(layout, capsys, clean_env):
    code, out, err = await asyncio.to_thread(run_main, capsys, "--root", str(layout.root), "app", "status", "fooocus")
    assert code == 0, err
    cli_label = out.split()[1]  # NAME, then the label ("stopped": a fresh root has no container)
    assert cli_label == "stopped" and "not created" not in out
    async with running_services(layout, run_downloads=False) as services:
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.screen.query("#card-fooocus"), what="the fooocus card")
            head = app.screen.query_one("#card-fooocus").render().renderables[0].plain
            assert f"● {cli_label}" in head


async def test_the_cli_and_the_downloads_screen_show_a_download_state_with_the_same_label(layout, capsys, clean_env):
    root = str(layout.root)
    code, out, err = await asyncio.to_thread(
        run_main, capsys, "--root", root, "downloads", "add", "http://127.0.0.1:9/m.bin", "--name", "m.bin"
    )
    assert code == 0, err
    listed = await asyncio.to_thread(run_main, capsys, "--root", root, "downloads", "list", "--json")
    item_id = json.loads(listed[1])["items"][0]["id"]
    assert (await asyncio.to_thread(run_main, capsys, "--root", root, "downloads", "pause", item_id))[0] == 0
    code, out, err = await asyncio.to_thread(run_main, capsys, "--root", root, "downloads", "list")
    row = next(line for line in out.splitlines() if line.startswith(item_id))
    cli_label = row.split()[1]
    assert cli_label == DOWNLOAD_STATES[DownloadState.PAUSED].label
    async with running_services(layout, run_downloads=False) as services:
        app = make_app(services)
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.press("3")
            await until(pilot, lambda: app.screen.query(DataTable) and cell_texts(app.screen.query_one(DataTable)),
                        what="the queue")  # fmt: skip
            rows = cell_texts(app.screen.query_one(DataTable))
            assert [r[1] for r in rows if r[0] == "m.bin"] == [cli_label]
