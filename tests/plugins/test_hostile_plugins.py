"""Hostile and faulty plugins (issue 15): a plugin that ends the process, replaces builtins or
modules, sleeps at import or prints megabytes, and settings files others can read. Each runs the
real CLI in a subprocess against plugins written into a temp data root."""

from __future__ import annotations

import asyncio
import json
import os
import stat

from aiohttp import web

from aiui_tui.paths import Layout, ensure_layout
from tests.conftest import run_cli
from tests.http_server import serve
from tests.library.conftest import LORA_KEYS, make_model
from tests.plugins.conftest import enable, write_plugin

BUILTIN_APPS = {"fooocus", "comfyui", "automatic1111"}
CATALOG_HOOK = """
@hookimpl
def aiui_catalog_entries(context):
    return [{"id": "NAME-model", "name": "Zzplugin NAME", "kind": "loras", "url": "https://example.org/NAME.safetensors",
             "filename": "NAME.safetensors"}]
"""


def root_with_layout(tmp_path) -> Layout:
    layout = Layout(tmp_path / "root")
    ensure_layout(layout)
    return layout


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Warning: Plugin")]


def listed_apps(stdout: str) -> set[str]:
    return {a["name"] for a in json.loads(stdout)["apps"]}


def marker_plugin(layout: Layout, name: str) -> None:
    """A well-behaved plugin: it must keep working beside the hostile one."""
    code = "from aiui_tui.plugins import hookimpl\n" + CATALOG_HOOK.replace("NAME", name)
    write_plugin(layout.root, name, code)
    enable(layout.root, name)


def test_os_exit_at_import_or_in_a_hook_is_refused_and_named(tmp_path):
    """os._exit(0) while a plugin loads used to end `app list` silently with exit 0: now the exit
    is refused, the plugin is switched off with one warning, and the command does its job."""
    layout = root_with_layout(tmp_path)
    write_plugin(layout.root, "exits-at-import", "import os\nos._exit(0)\n")
    enable(layout.root, "exits-at-import")
    in_hook = """
        import posix
        from aiui_tui.plugins import hookimpl

        @hookimpl
        def aiui_catalog_entries(context):
            posix._exit(3)  # the same function under another name
    """
    write_plugin(layout.root, "exits-in-hook", in_hook)
    enable(layout.root, "exits-in-hook")
    marker_plugin(layout, "well-behaved")

    result = run_cli("--root", str(layout.root), "app", "list", "--json")
    assert result.returncode == 0, result.output
    assert listed_apps(result.stdout) >= BUILTIN_APPS
    assert sorted(warnings(result.stderr)) == [
        "Warning: Plugin exits-at-import disabled for this session: it tried to end aiui-tui at import: "
        "PluginExit: os._exit(0) (traceback in logs/aiui.log).",
        "Warning: Plugin exits-in-hook disabled for this session: it tried to end aiui-tui in aiui_catalog_entries: "
        "PluginExit: os._exit(3) (traceback in logs/aiui.log).",
    ]
    search = run_cli("--root", str(layout.root), "models", "search", "zzplugin", "--json")
    assert search.returncode == 0, search.output
    assert [r["id"] for r in json.loads(search.stdout)["results"]] == ["well-behaved-model"]


def test_an_exit_from_a_thread_the_plugin_started_names_it_and_fails(tmp_path):
    """An exit that cannot be told apart from aiui-tui's own code (here: a thread whose target is
    os._exit itself) happens while the plugin loads: the process ends, but with exit code 1 and a
    line naming the plugin, never a silent 0."""
    layout = root_with_layout(tmp_path)
    code = """
        import os, threading, time
        threading.Thread(target=os._exit, args=(0,)).start()
        time.sleep(30)
    """
    write_plugin(layout.root, "sneaky", code)
    enable(layout.root, "sneaky", timeout_s=60)

    result = run_cli("--root", str(layout.root), "app", "list", "--json")
    assert result.returncode == 1, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Error: aiui-tui was ended by os._exit(0) while plugin sneaky was loading. Fix: aiui-tui plugins disable sneaky"
    ]
    log = (layout.logs_dir / "aiui.log").read_text()
    assert "ended while plugin code ran" in log and "sneaky" in log


def test_replaced_builtins_and_modules_are_put_back_and_the_plugin_switched_off(tmp_path):
    """A plugin replacing builtins.print and a module in sys.modules used to break the command
    (no output, an ImportError later); the guard puts both back and switches that plugin off."""
    layout = root_with_layout(tmp_path)
    code = """
        import builtins, sys, types
        builtins.print = lambda *args, **kwargs: None
        sys.modules["aiui_tui.services.monitor.nvml"] = types.ModuleType("hijacked")
    """
    write_plugin(layout.root, "hijacker", code)
    enable(layout.root, "hijacker")
    in_hook = """
        import builtins
        from aiui_tui.plugins import hookimpl

        @hookimpl
        def aiui_app_manifests(context):
            del builtins.len
            return []
    """
    write_plugin(layout.root, "deleter", in_hook)
    enable(layout.root, "deleter")
    marker_plugin(layout, "well-behaved")

    result = run_cli("--root", str(layout.root), "app", "list", "--json")
    assert result.returncode == 0, result.output
    assert listed_apps(result.stdout) >= BUILTIN_APPS
    assert sorted(warnings(result.stderr)) == [
        "Warning: Plugin deleter disabled for this session: it changed the interpreter in aiui_app_manifests: "
        "PluginTampered: removed builtins.len (put back) (traceback in logs/aiui.log).",
        "Warning: Plugin hijacker disabled for this session: it changed the interpreter at import: PluginTampered: "
        "replaced builtins.print, sys.modules['aiui_tui.services.monitor.nvml'] (put back) "
        "(traceback in logs/aiui.log).",
    ]
    listed = json.loads(run_cli("--root", str(layout.root), "plugins", "list", "--json").stdout)["plugins"]
    assert {p["name"]: p["state"] for p in listed} == {
        "deleter": "failed",
        "hijacker": "failed",
        "well-behaved": "loaded",
    }


def test_an_import_that_overruns_its_budget_is_abandoned(tmp_path):
    """The time budget covers imports: a plugin sleeping at import used to hold every command for
    30 s; now it is abandoned after its budget (`timeout_s`) with one warning."""
    layout = root_with_layout(tmp_path)
    write_plugin(layout.root, "sleeps", "import time\ntime.sleep(600)\n")
    enable(layout.root, "sleeps", timeout_s=1)
    marker_plugin(layout, "well-behaved")

    result = run_cli("--root", str(layout.root), "app", "list", "--json", timeout=25)
    assert result.returncode == 0, result.output
    assert listed_apps(result.stdout) >= BUILTIN_APPS
    assert warnings(result.stderr) == [
        "Warning: Plugin sleeps disabled for this session: it was too slow at import: PluginTimeout: "
        "took longer than 1 s (traceback in logs/aiui.log)."
    ]
    search = run_cli("--root", str(layout.root), "models", "search", "zzplugin", "--json", timeout=25)
    assert [r["id"] for r in json.loads(search.stdout)["results"]] == ["well-behaved-model"]


def test_plugin_output_goes_to_the_log_not_the_terminal(tmp_path):
    """60 MB printed at import and lines written in a hook used to land in `app list`'s stdout;
    now stdout holds only the listing, and the log a bounded share of each plugin's output."""
    layout = root_with_layout(tmp_path)
    write_plugin(layout.root, "flood", 'for _ in range(60):\n    print("x" * 1_000_000)\n')
    enable(layout.root, "flood")
    code = """
        import logging, sys, threading
        from aiui_tui.plugins import hookimpl

        logging.getLogger().addHandler(logging.StreamHandler())  # would print our log records on stderr
        print("hello from import")
        sys.stderr.write("a warning at import\\n")
        sys.stdout.buffer.write(b"bytes at import\\n")

        def chatty():
            print("from the plugin's own thread")

        @hookimpl
        def aiui_catalog_entries(context):
            print("hook says hi", flush=True)
            thread = threading.Thread(target=chatty)
            thread.start()
            thread.join()
            return []
    """
    write_plugin(layout.root, "chatty", code)
    enable(layout.root, "chatty")

    result = run_cli("--root", str(layout.root), "app", "list", "--json")
    assert result.returncode == 0, result.stderr[:2000]
    assert listed_apps(result.stdout) >= BUILTIN_APPS  # stdout is the JSON document and nothing else
    assert result.stderr == ""
    log_file = layout.logs_dir / "aiui.log"
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    output = [r for r in records if r.get("event") == "plugin output"]
    assert [(r["stream"], r["line"]) for r in output if r["plugin"] == "chatty"] == [
        ("stdout", "hello from import"),
        ("stderr", "a warning at import"),
        ("stdout", "bytes at import"),
        ("stdout", "hook says hi"),
        ("stdout", "from the plugin's own thread"),
    ]
    assert {len(r["line"]) for r in output if r["plugin"] == "flood"} == {2000}  # long lines cut
    assert [r["plugin"] for r in records if r.get("event") == "plugin output beyond the log budget is dropped"] == [
        "flood"
    ]
    assert [r["plugin"] for r in records if r.get("event") == "removed a log handler writing on the terminal"] == [
        "chatty"
    ]
    assert log_file.stat().st_size < 1_000_000


def test_plugin_settings_readable_by_others_are_refused_like_secrets(tmp_path):
    """config/plugins/NAME.toml may hold secrets: mode 0644 is refused as secrets.toml would be,
    with one warning and the fix; the plugin does not run until the file is private."""
    layout = root_with_layout(tmp_path)
    marker_plugin(layout, "webhooky")
    settings = enable(layout.root, "webhooky", secret="hunter2hunter2")
    settings.chmod(0o644)

    result = run_cli("--root", str(layout.root), "models", "search", "zzplugin", "--json")
    assert result.returncode == 0, result.output
    assert json.loads(result.stdout)["results"] == []  # its hook did not run
    [line] = warnings(result.stderr)  # the wording is secrets.toml's (credentials.check_private)
    assert line.startswith(f"Warning: Plugin webhooky is off: {settings} ") and "(mode -rw-r--r--)" in line
    assert line.endswith(f"Fix: chmod 600 {settings}")
    assert "hunter2" not in result.output
    listed = json.loads(run_cli("--root", str(layout.root), "plugins", "list", "--json").stdout)["plugins"]
    assert listed[0]["state"] == "broken" and "chmod 600" in listed[0]["problem"]

    settings.chmod(0o600)
    result = run_cli("--root", str(layout.root), "models", "search", "zzplugin", "--json")
    assert result.returncode == 0 and warnings(result.stderr) == []
    assert [r["id"] for r in json.loads(result.stdout)["results"]] == ["webhooky-model"]

    settings.chmod(0o640)  # `plugins enable` rewrites it private, as it writes every settings file
    assert run_cli("--root", str(layout.root), "plugins", "enable", "webhooky").returncode == 0
    assert stat.S_IMODE(os.stat(settings).st_mode) == 0o600


async def test_async_event_hooks_that_end_the_process_are_switched_off(tmp_path):
    """An async aiui_on_event runs on the event loop: sys.exit() there used to end the command
    (SystemExit escapes asyncio), os._exit(0) too; both are now one warning each, the other
    plugin still hears the event."""
    layout = root_with_layout(tmp_path)
    for name, call in (("a-exits", "os._exit(0)"), ("b-sys-exit", "sys.exit(0)")):
        code = f"""
            import os, sys
            from aiui_tui.plugins import hookimpl

            @hookimpl
            async def aiui_on_event(event):
                {call}
        """
        write_plugin(layout.root, name, code)
        enable(layout.root, name)
    recorder = """
        from pathlib import Path
        from aiui_tui.plugins import hookimpl

        @hookimpl
        def aiui_on_event(event, context):
            with Path(context.root, "heard").open("a") as f:
                f.write(event.name + "\\n")
    """
    write_plugin(layout.root, "c-records", recorder)
    enable(layout.root, "c-records")
    payload = make_model(tmp_path / "src.safetensors", LORA_KEYS).read_bytes()

    async def file(_request):
        return web.Response(body=payload)

    files = web.Application()
    files.router.add_get("/model.safetensors", file)
    async with serve(files) as base:
        result = await asyncio.to_thread(
            run_cli, "--root", str(layout.root), "download", base + "/model.safetensors", "--dest", str(tmp_path)
        )
    assert result.returncode == 0, result.output
    assert sorted(warnings(result.stderr)) == [
        "Warning: Plugin a-exits disabled for this session: it tried to end aiui-tui in aiui_on_event: "
        "PluginExit: os._exit(0) (traceback in logs/aiui.log).",
        "Warning: Plugin b-sys-exit disabled for this session: it tried to end aiui-tui in aiui_on_event: "
        "PluginExit: sys.exit(0) (traceback in logs/aiui.log).",
    ]
    assert (layout.root / "heard").read_text() == "download.finished\n"


def test_a_model_source_that_ends_the_process_is_switched_off(tmp_path):
    """A plugin's model source runs when the user searches: its print goes to the log, its
    os._exit(0) used to end `models search` with exit 0 and no output; now the search fails
    with one line naming the plugin, and the plugin is off."""
    layout = root_with_layout(tmp_path)
    code = """
        import os
        from aiui_tui.plugins import hookimpl

        class Exiting:
            name = "exiting"
            title = "Ends the process"

            async def search(self, text, kind, limit):
                print("searching for", text)
                os._exit(0)

            async def files(self, model_id):
                return []

        @hookimpl
        def aiui_model_sources(context):
            return [Exiting()]
    """
    write_plugin(layout.root, "exiting-source", code)
    enable(layout.root, "exiting-source")
    result = run_cli("--root", str(layout.root), "models", "search", "x", "--source", "exiting")
    assert result.returncode == 2, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Warning: Plugin exiting-source disabled for this session: it tried to end aiui-tui in its source's search: "
        "PluginExit: os._exit(0) (traceback in logs/aiui.log).",
        "Error: The exiting source is off: plugin exiting-source tried to end aiui-tui in its source's search: "
        "PluginExit: os._exit(0). Fix: see `aiui-tui plugins info exiting-source` and logs/aiui.log",
    ]
    assert '"line": "searching for x"' in (layout.logs_dir / "aiui.log").read_text()
