"""Plugins and settings in the dashboard: the Forge plugin's card, a plugin's palette command, the
load warning as one toast, the settings screen (plugin states, enable with e, options saved); in a
real terminal, hostile plugins: one ending the process at import, one hanging at import or in its
command, and the dashboard still quitting on `q`."""

from __future__ import annotations

import shlex
import sys
import time

import pytest
from textual.widgets import DataTable, Select

from aiui_tui.config import write_default_config
from aiui_tui.paths import Layout, ensure_layout
from aiui_tui.services.plugins.discovery import read_settings
from aiui_tui.tui.app import make_app
from tests.plugins.conftest import copy_example, enable, write_plugin
from tests.tmux_terminal import TmuxSession
from tests.toasts import toasts
from tests.tui.conftest import cell_texts, running_services, until

COMMAND_PLUGIN = """
from aiui_tui.plugins import PaletteCommand, hookimpl

def hello(ui):
    ui.notify("hello from the plugin: " + ", ".join(ui.services.apps.names()[:1]))

def explode(ui):
    raise ValueError("command exploded")

@hookimpl
def aiui_palette_commands(context):
    return [PaletteCommand("Say hello", "A greeting", hello), PaletteCommand("Explode", "Raises", explode)]
"""


async def test_plugin_app_card_command_warning_and_settings(tmp_path, clean_env):
    layout = Layout(tmp_path / "root")
    ensure_layout(layout)
    copy_example(layout.root, "forge")
    enable(layout.root, "forge")
    write_plugin(layout.root, "greeter", COMMAND_PLUGIN)
    enable(layout.root, "greeter")
    write_plugin(layout.root, "broken", "raise RuntimeError('boom at import')\n")
    enable(layout.root, "broken")
    write_plugin(layout.root, "idle", "x = 1\n")

    async with running_services(layout, run_downloads=False) as services:
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.screen.query("#card-forge"), what="the forge card")
            warnings = [n.message for n in toasts(app) if "Plugin broken" in n.message]
            assert len(warnings) == 1 and "failed to import: RuntimeError: boom at import" in warnings[0]

            [command] = [c for c in app._plugin_commands() if c.title == "Say hello"]
            command.callback()
            await until(pilot, lambda: any("hello from the plugin" in n.message for n in toasts(app)),
                        what="the plugin's toast")  # fmt: skip
            [explode] = [c for c in app._plugin_commands() if c.title == "Explode"]
            explode.callback()
            await until(pilot, lambda: services.plugins.plugins["greeter"].state == "failed", what="greeter off")
            await until(pilot, lambda: any("Plugin greeter" in n.message for n in toasts(app)), what="its toast")
            await pilot.pause()  # and what else was pending: one toast, not two
            assert [n.message for n in toasts(app) if "Plugin greeter" in n.message] == [
                "Plugin greeter disabled for this session: it raised in its command 'Explode': "
                "ValueError: command exploded (traceback in logs/aiui.log)."
            ]
            assert not [c for c in app._plugin_commands() if c.title == "Say hello"]  # its commands are gone

            def config_text():
                return layout.config_file.read_text() if layout.config_file.exists() else ""

            before = config_text()
            await pilot.press("5")
            table = app.screen.query_one("#plugins", DataTable)
            await until(pilot, lambda: table.row_count == 4, what="four plugins")
            for _ in range(2):  # what showing the screen set off has run: its loaders, the selectors'
                await app.workers.wait_for_complete()  # Changed messages, and any save they started
                await pilot.pause()
            assert config_text() == before  # showing the settings saves nothing
            assert not [n for n in toasts(app) if n.message.startswith("Saved")]
            states = {row[0]: row[2] for row in cell_texts(table)}
            assert states == {"broken": "failed", "forge": "loaded", "greeter": "failed", "idle": "disabled"}

            table.focus()
            table.move_cursor(row=[r[0] for r in cell_texts(table)].index("idle"))
            await pilot.press("e")
            await until(pilot, lambda: read_settings(layout, "idle").get("enabled") is True, what="idle enabled")
            await until(pilot, lambda: {r[0]: r[2] for r in cell_texts(table)}["idle"] == "on at next start",
                        what="the new state shown")  # fmt: skip
            table.move_cursor(row=[r[0] for r in cell_texts(table)].index("forge"))
            await pilot.press("e")
            await until(pilot, lambda: read_settings(layout, "forge").get("enabled") is False, what="forge off")
            await until(pilot, lambda: {r[0]: r[2] for r in cell_texts(table)}["forge"] == "loaded, off at next start",
                        what="forge's new state")  # fmt: skip

            select = app.screen.query_one("#opt--forge--precision", Select)
            select.value = "fp8"
            await until(pilot, lambda: 'precision = "fp8"' in layout.config_file.read_text(), what="option saved")
            parallel = app.screen.query_one("#par--downloads-concurrent", Select)
            parallel.value = 4
            await until(pilot, lambda: "concurrent = 4" in layout.config_file.read_text(), what="parallel saved")
            assert services.config.downloads.concurrent == 4


async def test_an_instance_on_one_gpu_gets_its_own_card(layout, clean_env):
    async with running_services(layout, run_downloads=False) as services:
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.screen.query("#card-fooocus"), what="the fooocus card")
            services.apps._add_instance("fooocus", 1)  # what `start_on_gpu` does before starting it
            await until(pilot, lambda: app.screen.query("#card-fooocus-gpu1"), what="the instance's card")
            assert app.ui.apps["fooocus-gpu1"].status.title == "Fooocus (GPU 1)"
            assert app.screen.query("#card-fooocus")  # the app's own card stays


async def test_a_plugin_model_source_is_a_tab_and_queues_downloads(tmp_path, clean_env):
    from aiohttp import web

    from tests.http_server import serve
    from tests.library.conftest import LORA_KEYS, make_model
    from tests.plugins.test_plugins import MIRROR_PLUGIN

    layout = Layout(tmp_path / "root")
    ensure_layout(layout)
    payload = make_model(tmp_path / "house.safetensors", LORA_KEYS).read_bytes()

    async def file(_request):
        return web.Response(body=payload)

    server = web.Application()
    server.router.add_get("/house-style.safetensors", file)
    async with serve(server) as base:
        write_plugin(layout.root, "mirror", MIRROR_PLUGIN)
        enable(layout.root, "mirror", base=base)
        async with running_services(layout) as services:
            app = make_app(services)
            async with app.run_test(size=(120, 40)) as pilot:
                await pilot.press("2")
                await until(pilot, lambda: app.screen.query("#plugin-source-0"), what="the mirror's tab")
                for _ in range(4):  # catalog -> installed -> hf -> civitai -> the mirror
                    await pilot.press("tab")
                table = app.screen.query_one("#results", DataTable)
                await until(pilot, lambda: [r[0] for r in cell_texts(table)] == ["House style LoRA"],
                            what="the mirror's result")  # fmt: skip
                assert cell_texts(table)[0][4] == "Company mirror"
                table.focus()
                await pilot.press("d")
                target = layout.kind_dir("loras") / "house-style.safetensors"
                await until(pilot, lambda: target.exists() and target.read_bytes() == payload, what="the download")


@pytest.fixture
def dashboard(tmp_path):
    """The real `aiui-tui` dashboard in tmux over a prepared root; its exit code lands in a file."""
    sessions = []
    layout = Layout(tmp_path / "root")
    ensure_layout(layout)
    write_default_config(layout)  # not a first run: no wizard
    rc_file = tmp_path / "rc"

    def start() -> TmuxSession:
        command = (
            f"{shlex.quote(sys.executable)} -m aiui_tui --root {shlex.quote(str(layout.root))}; echo $? > {rc_file}"
        )
        session = TmuxSession(["sh", "-c", command], env={"TERM": "xterm-256color"})
        sessions.append(session)
        return session

    yield layout, start, rc_file
    for session in sessions:
        session.close()


HANGING_COMMAND = """
import time
from aiui_tui.plugins import PaletteCommand, hookimpl

def wait_forever(ui):
    time.sleep(3600)

@hookimpl
def aiui_palette_commands(context):
    return [PaletteCommand("Wait forever", "Never returns", wait_forever)]
"""


def test_dashboard_survives_an_exit_at_import_and_quits_while_a_command_hangs(dashboard):
    """os._exit(0) in a plugin's import used to make the dashboard vanish with exit code 0; a
    command that hangs (within a 300 s budget) used to hold the process after `q`."""
    layout, start, rc_file = dashboard
    write_plugin(layout.root, "exiter", "import os\nos._exit(0)\n")
    enable(layout.root, "exiter")
    write_plugin(layout.root, "stuck", HANGING_COMMAND)
    enable(layout.root, "stuck", timeout_s=300)
    term = start()
    term.wait_for("Plugin exiter disabled for this session")
    term.send("C-p")
    term.wait_for("Search for commands")
    term.send("-l", "Wait forever")
    term.wait_for("Never returns")
    term.send("Enter")
    term.wait_gone("Search for commands")
    time.sleep(0.5)  # the command's thread is running
    term.send("q")
    assert term.wait_closed(15), term.screen()
    assert rc_file.read_text().strip() == "0"


def test_dashboard_quits_on_q_while_a_plugin_import_hangs(dashboard):
    """The import runs within a 300 s budget; `q` used to wait for all of it."""
    layout, start, rc_file = dashboard
    write_plugin(layout.root, "hangs", "import time\ntime.sleep(3600)\n")
    enable(layout.root, "hangs", timeout_s=300)
    term = start()
    term.wait_for("Starting")
    time.sleep(1)  # the import is under way
    term.send("q")
    assert term.wait_closed(15), term.screen()
    assert rc_file.read_text().strip() == "0"


async def test_settings_shows_enabled_apps_and_plugins_copied_in_while_open(layout, clean_env, monkeypatch):
    """Settings listed options of disabled apps, and plugins only as they were when first shown (issue 16)."""
    from aiui_tui.services.plugins import watch

    monkeypatch.setattr(watch, "POLL_S", 0.05)
    async with running_services(layout, run_downloads=False, apps__enabled=["comfyui"]) as services:
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("5")
            table = app.screen.query_one("#plugins", DataTable)
            await until(pilot, lambda: app.screen.query("#app-options Select"), what="the options")
            shown = {select.id.split("--")[1] for select in app.screen.query("#app-options Select")}
            assert shown == {"comfyui"}  # fooocus and automatic1111 are not enabled
            assert [row[0] for row in cell_texts(table)] == ["(none)"]

            folder = write_plugin(layout.root / "elsewhere", "idle", "x = 1\n")
            folder.rename(layout.plugins_dir / "idle")  # copied in while the screen is open
            await until(pilot, lambda: [row[0] for row in cell_texts(table)] == ["idle"], what="the copied plugin")
            assert {row[0]: row[2] for row in cell_texts(table)} == {"idle": "disabled"}  # off until enabled
            assert services.plugins.plugins == {}  # listed, not loaded
