"""Each screen's main flow under Pilot, on real services: queue a model from the browser and watch it
finish, pause/resume/cancel, search sources (offline too), verify, errors as toasts."""

from __future__ import annotations

import socket

import pytest
from textual.widgets import DataTable, Input, Static

from aiui_tui.core.library import CatalogEntry
from aiui_tui.tui.app import make_app
from aiui_tui.tui.screens.downloads import DownloadsScreen
from aiui_tui.tui.screens.models import ModelsScreen
from aiui_tui.tui.widgets.confirm import ConfirmScreen
from tests.downloads.conftest import safetensors_payload
from tests.downloads.fault_server import Fault, fault_server
from tests.library.conftest import SDXL_KEYS, make_model
from tests.toasts import toast_text
from tests.tui.conftest import cell_texts, running_services, until


@pytest.fixture
async def server():
    async with fault_server() as s:
        yield s


def catalog_entry(url: str, data: bytes, name: str = "test-model", kind: str = "checkpoints") -> CatalogEntry:
    import hashlib

    return CatalogEntry(
        name,
        f"Test model {name}",
        kind,
        url,
        f"{name}.safetensors",
        len(data),
        hashlib.sha256(data).hexdigest(),
        "sdxl",
    )


def notifications(app) -> str:
    return toast_text(app)


async def search(pilot, app, text: str) -> None:
    await pilot.press("slash")
    query = app.screen.query_one("#query", Input)
    query.value = text
    table = app.screen.query_one(DataTable)
    await until(pilot, lambda: table.row_count and all(text.lower() in r[0].lower() for r in cell_texts(table)),
                what=f"only rows for {text!r}")  # fmt: skip
    app.screen.query_one(DataTable).focus()
    await pilot.pause()
    assert isinstance(app.focused, DataTable), app.focused


async def test_queue_a_catalog_model_and_watch_it_finish_then_installed(layout, clean_env, server, tmp_path):
    data = make_model(tmp_path / "m.safetensors", SDXL_KEYS).read_bytes()
    url = server.add("test-model.safetensors", data)
    async with running_services(layout) as services:
        services.library.extra_catalog = [catalog_entry(url, data)]
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            assert isinstance(app.screen, ModelsScreen)
            await search(pilot, app, "Test model")
            assert "→ downloads to models/checkpoints/" in str(app.screen.query_one("#details", Static).render())
            await pilot.press("d")
            await until(pilot, lambda: "Queued test-model.safetensors" in notifications(app), what="the queued toast")
            await pilot.press("3")
            assert isinstance(app.screen, DownloadsScreen)
            table = app.screen.query_one(DataTable)
            await until(pilot, lambda: cell_texts(table) and cell_texts(table)[0][1] == "done", what="done")
            assert cell_texts(table)[0][0] == "test-model.safetensors"
            assert "100%" in cell_texts(table)[0][2]
            await pilot.press("2")
            await pilot.press("tab")  # to the Installed source
            rows = lambda: cell_texts(app.screen.query_one(DataTable))  # noqa: E731
            await until(pilot, lambda: any(r[0] == "test-model.safetensors" for r in rows()), what="the installed row")
            row = next(r for r in cell_texts(app.screen.query_one(DataTable)) if r[0] == "test-model.safetensors")
            assert row[1:3] == ["checkpoints", "sdxl"] and row[5] == "verified"
            await pilot.press("v")
            await until(pilot, lambda: "test-model.safetensors: ok" in notifications(app), what="verify toast")
        assert (layout.kind_dir("checkpoints") / "test-model.safetensors").read_bytes() == data


async def test_pause_resume_and_cancel_with_confirmation(layout, clean_env, server):
    data = safetensors_payload(4 * 1024 * 1024)
    url = server.add("slow.safetensors", data, Fault(rate=256 * 1024))
    async with running_services(layout) as services:
        app = make_app(services)
        async with app.run_test(size=(80, 24)) as pilot:
            from aiui_tui.core.requests import DownloadRequest

            await services.downloads.enqueue(DownloadRequest(url=url, kind="loras", name="slow.safetensors"))
            await pilot.press("3")
            table = app.screen.query_one(DataTable)
            await until(pilot, lambda: cell_texts(table) and cell_texts(table)[0][1] == "active", what="active")
            await until(pilot, lambda: cell_texts(table)[0][4] != "", what="a speed")
            await pilot.press("p")
            await until(pilot, lambda: cell_texts(table)[0][1] == "paused", what="paused")
            await pilot.press("r")
            await until(pilot, lambda: cell_texts(table)[0][1] == "active", what="active again")
            await pilot.press("c")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("n")
            assert cell_texts(table)[0][1] == "active"  # declined: nothing happened
            await pilot.press("c")
            await pilot.press("y")
            await until(pilot, lambda: table.row_count == 0, what="the row to go")
            assert "queue is empty" in str(app.screen.query_one("#totals", Static).render())
            await pilot.pause()
            from tests.tui.test_sizes import screen_lines

            shown = " ".join(line.strip() for line in screen_lines(app))
            assert "`aiui-tui models add`." in shown, f"the empty queue's hint is cut at {app.size}"  # wraps, whole
        assert not list(layout.kind_dir("loras").glob("slow*"))


async def test_hf_search_offline_says_so_and_the_catalog_still_works(layout, clean_env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with running_services(layout, sources__huggingface_url=f"http://127.0.0.1:{port}") as services:
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2", "tab", "tab")  # Catalog -> Installed -> HuggingFace
            assert app.screen.source == "hf"
            details = app.screen.query_one("#details", Static)
            await until(pilot, lambda: "not reachable" in str(details.render()), what="the offline message")
            assert "catalog still works offline" in str(details.render())
            await pilot.press("tab", "tab")  # CivitAI -> Catalog
            await until(pilot, lambda: app.screen.query_one(DataTable).row_count >= 10, what="catalog rows")


async def test_a_failing_action_is_a_toast_with_the_fix_not_a_crash(layout, clean_env):
    async with running_services(layout, docker__host="unix:///nonexistent/docker.sock") as services:
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.ui.engine_ok is False, what="engine state")
            await pilot.press("s")  # start the selected app: no engine
            await until(pilot, lambda: "Fix:" in notifications(app), what="an error toast")
            assert "Docker" in notifications(app)
            await pilot.press("2", "3", "4", "1")
        assert app.return_code in (None, 0)
