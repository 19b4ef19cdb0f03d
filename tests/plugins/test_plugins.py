"""Plugins without Docker: discovery without import, enabling, isolation of bad plugins, the CLI,
catalog entries and model sources, events to the webhook example against a local server."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import stat
import sys

from aiohttp import web

from aiui_tui.core.apps import AppStatus
from aiui_tui.core.events import AppStateChanged
from aiui_tui.paths import Layout, ensure_layout
from aiui_tui.services.plugins import PluginService
from aiui_tui.services.plugins.api import api_supported
from tests.conftest import run_cli
from tests.http_server import serve
from tests.library.conftest import LORA_KEYS, make_model
from tests.plugins.conftest import copy_example, enable, webhook_receiver, write_plugin

MARKER_PLUGIN = """
from pathlib import Path
Path(__file__).with_name("imported").write_text("yes")
from aiui_tui.plugins import hookimpl

@hookimpl
def aiui_catalog_entries(context):
    return [{"id": "marker-model", "name": "Marker", "kind": "loras", "url": "https://example.org/m.safetensors",
             "filename": "m.safetensors"}]
"""


def root_with_layout(tmp_path):
    layout = Layout(tmp_path / "root")
    ensure_layout(layout)
    return layout


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Warning: Plugin")]


def test_api_versions():
    assert api_supported("1.0") and api_supported("1")
    assert not api_supported("2.0") and not api_supported("1.9") and not api_supported("one")


def test_a_disabled_plugin_is_listed_but_never_imported(tmp_path):
    layout = root_with_layout(tmp_path)
    folder = write_plugin(layout.root, "marker", MARKER_PLUGIN)
    service = PluginService(layout)
    service.load()
    assert service.plugins == {} and service.catalog == []
    listed = service.discover()
    assert listed["marker"].state == "disabled" and listed["marker"].version == "0.1.0"
    assert not (folder / "imported").exists()
    assert not any(name.startswith("aiui_plugin_marker") for name in sys.modules)

    result = run_cli("--root", str(layout.root), "plugins", "list", "--json")
    assert result.returncode == 0, result.output
    assert json.loads(result.stdout)["plugins"][0] | {"location": ""} == {
        "name": "marker", "kind": "folder", "version": "0.1.0", "description": "test plugin marker", "api": "1.0",
        "location": "", "enabled": False, "state": "disabled", "problem": "",
    }  # fmt: skip
    assert not (folder / "imported").exists()


def test_enable_loads_it_and_disable_leaves_no_trace(tmp_path):
    layout = root_with_layout(tmp_path)
    folder = write_plugin(layout.root, "marker", MARKER_PLUGIN)
    settings = layout.plugin_config_dir / "marker.toml"
    settings.write_text("# my notes\nenabled = false\nlevel = 3\n")

    result = run_cli("--root", str(layout.root), "plugins", "enable", "marker")
    assert result.returncode == 0, result.output
    assert "Plugin marker enabled" in result.output and "1 catalog" in result.output
    text = settings.read_text()
    assert "# my notes" in text and "enabled = true" in text and "level = 3" in text
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600

    search = run_cli("--root", str(layout.root), "models", "search", "marker", "--json")
    assert search.returncode == 0 and "marker-model" in search.stdout

    (folder / "imported").unlink()
    result = run_cli("--root", str(layout.root), "plugins", "disable", "marker")
    assert result.returncode == 0 and "disabled" in result.output
    search = run_cli("--root", str(layout.root), "models", "search", "marker", "--json")
    assert search.returncode == 0 and "marker-model" not in search.stdout
    assert not (folder / "imported").exists()


def test_unknown_plugin_is_one_line_and_exit_2(tmp_path):
    layout = root_with_layout(tmp_path)
    result = run_cli("--root", str(layout.root), "plugins", "enable", "nope")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "No plugin named 'nope'" in result.stderr
    assert "Traceback" not in result.output


def test_bad_plugins_are_isolated_one_warning_each(tmp_path):
    """Import error, hook error, a slow hook, an unsupported API: one line each; the rest works, exit 0."""
    layout = root_with_layout(tmp_path)
    copy_example(layout.root, "forge")
    enable(layout.root, "forge")
    write_plugin(layout.root, "bad-import", "import no_such_module_anywhere\n")
    enable(layout.root, "bad-import")
    hook_raises = """
        from aiui_tui.plugins import hookimpl

        @hookimpl
        def aiui_catalog_entries(context):
            raise RuntimeError("catalog exploded")
    """
    write_plugin(layout.root, "bad-hook", hook_raises)
    enable(layout.root, "bad-hook")
    slow = """
        import time
        from aiui_tui.plugins import hookimpl

        @hookimpl
        def aiui_app_manifests(context):
            time.sleep(5)
            return []
    """
    write_plugin(layout.root, "slow", slow)
    enable(layout.root, "slow", timeout_s=0.5)
    write_plugin(layout.root, "future", "x = 1\n", api="2.0")
    enable(layout.root, "future")

    result = run_cli("--root", str(layout.root), "app", "list", "--json")
    assert result.returncode == 0, result.output
    lines = warnings(result.stderr)
    assert len(lines) == 4, result.stderr
    by_plugin = {line.split()[2]: line for line in lines}
    assert "failed to import: ModuleNotFoundError" in by_plugin["bad-import"]
    assert "raised in aiui_catalog_entries: RuntimeError: catalog exploded" in by_plugin["bad-hook"]
    assert "too slow in aiui_app_manifests" in by_plugin["slow"]
    assert "targets plugin API 2.0, and this aiui-tui provides 1.0" in by_plugin["future"]
    assert "Traceback" not in result.output
    apps = {a["name"]: a for a in json.loads(result.stdout)["apps"]}
    assert apps["forge"]["source"] == "plugin forge" and {"fooocus", "comfyui", "automatic1111"} <= set(apps)

    log = (layout.logs_dir / "aiui.log").read_text()
    assert "catalog exploded" in log and "Traceback" in log  # the traceback went to the log

    listed = {
        p["name"]: p
        for p in json.loads(run_cli("--root", str(layout.root), "plugins", "list", "--json").stdout)["plugins"]
    }
    assert listed["forge"]["state"] == "loaded"
    assert listed["bad-import"]["state"] == "failed" and listed["future"]["state"] == "refused"


def test_one_raising_plugin_does_not_starve_the_next(tmp_path):
    """pluggy stops at the first raising implementation; we call each plugin on its own."""
    layout = root_with_layout(tmp_path)
    write_plugin(
        layout.root,
        "a-raises",
        "from aiui_tui.plugins import hookimpl\n\n@hookimpl\ndef aiui_catalog_entries():\n    raise ValueError('no')\n",
    )
    write_plugin(layout.root, "b-marker", MARKER_PLUGIN)
    enable(layout.root, "a-raises")
    enable(layout.root, "b-marker")
    seen = []
    service = PluginService(layout, on_warning=seen.append)
    service.load()
    assert [e.id for e in service.catalog] == ["marker-model"]
    assert len(seen) == 1 and "a-raises" in seen[0]
    assert service.plugins["a-raises"].state == "failed" and service.plugins["b-marker"].state == "loaded"


def test_a_bad_contribution_disables_only_its_plugin(tmp_path):
    layout = root_with_layout(tmp_path)
    code = """
        from aiui_tui.plugins import hookimpl

        @hookimpl
        def aiui_catalog_entries():
            return [{"id": "x", "name": "x", "kind": "nonsense", "url": "https://e.org/x", "filename": "x"}]
    """
    write_plugin(layout.root, "badentry", code)
    enable(layout.root, "badentry")
    seen = []
    service = PluginService(layout, on_warning=seen.append)
    service.load()
    assert service.catalog == [] and "unknown kind 'nonsense'" in seen[0]


def test_info_masks_secrets(tmp_path):
    layout = root_with_layout(tmp_path)
    copy_example(layout.root, "webhook")
    enable(layout.root, "webhook", url="http://127.0.0.1:9/hook", secret="hunter2hunter2")
    result = run_cli("--root", str(layout.root), "plugins", "info", "webhook", "--json")
    assert result.returncode == 0, result.output
    data = json.loads(result.stdout)
    assert data["settings"] == {"url": "http://127.0.0.1:9/hook", "secret": "****"}
    assert data["contributes"]["hooks"] == ["aiui_on_event"]
    assert "hunter2" not in result.output


def test_entry_point_plugins_are_found_and_need_AIUI_API(tmp_path):
    """An installed package (a dist-info with entry_points.txt on the path) is a plugin too."""
    layout = root_with_layout(tmp_path)
    site = tmp_path / "site"
    (site / "acme_plugin").mkdir(parents=True)
    (site / "acme_plugin" / "__init__.py").write_text(
        "from aiui_tui.plugins import hookimpl\nAIUI_API = '1.0'\n\n@hookimpl\ndef aiui_catalog_entries():\n"
        "    return [{'id': 'acme-lora', 'name': 'Acme', 'kind': 'loras', 'url': 'https://acme.example/a.safetensors',"
        " 'filename': 'a.safetensors'}]\n"
    )
    (site / "old_plugin.py").write_text("x = 1\n")
    dist = site / "acme_aiui-2.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-aiui\nVersion: 2.1.0\nSummary: Acme models\n")
    (dist / "entry_points.txt").write_text("[aiui_tui.plugins]\nacme = acme_plugin\nold = old_plugin\n")
    env = {"PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}

    listed = run_cli("--root", str(layout.root), "plugins", "list", "--json", env=env)
    plugins = {p["name"]: p for p in json.loads(listed.stdout)["plugins"]}
    assert plugins["acme"]["kind"] == "package" and plugins["acme"]["version"] == "2.1.0"
    assert plugins["acme"]["description"] == "Acme models" and plugins["acme"]["state"] == "disabled"

    enable(layout.root, "acme")
    enable(layout.root, "old")
    search = run_cli("--root", str(layout.root), "models", "search", "acme", "--json", env=env)
    assert search.returncode == 0 and "acme-lora" in search.stdout
    assert warnings(search.stderr) == [
        "Warning: Plugin old refused: it targets plugin API (none given), and this aiui-tui provides 1.0; "
        "update aiui-tui or use a matching plugin release."
    ]


MIRROR_PLUGIN = """
from aiui_tui.plugins import RemoteFile, RemoteModel, hookimpl

class Mirror:
    name = "mirror"
    title = "Company mirror"

    def __init__(self, base):
        self.base = base

    async def search(self, text, kind, limit):
        return [RemoteModel(source="mirror", id="house-style", name="House style LoRA", kind="loras")][:limit]

    async def files(self, model_id):
        return [RemoteFile(name="house-style.safetensors", url=self.base + "/house-style.safetensors", size=None,
                           sha256=None, kind="loras", format="safetensors", source={"path": "house-style.safetensors"})]

@hookimpl
def aiui_model_sources(context):
    return [Mirror(context.settings["base"])]
"""


async def test_a_plugin_model_source_searches_and_resolves(tmp_path):
    layout = root_with_layout(tmp_path)
    write_plugin(layout.root, "mirror", MIRROR_PLUGIN)
    enable(layout.root, "mirror", base="http://127.0.0.1:9")
    result = await asyncio.to_thread(
        run_cli, "--root", str(layout.root), "models", "search", "house", "--source", "mirror", "--json"
    )
    assert result.returncode == 0, result.output
    assert json.loads(result.stdout)["results"][0]["id"] == "house-style"

    from aiui_tui.services.library import LibraryService
    from tests.conftest import load_services_inputs

    service = PluginService(layout)
    service.load()
    config, credentials = load_services_inputs(layout)
    library = LibraryService(layout, config, credentials, bus=None, downloads=None)  # resolve needs neither
    library.extra_sources = service.sources
    [request] = await library.resolve("mirror:house-style")
    assert request.url == "http://127.0.0.1:9/house-style.safetensors" and request.kind == "loras"
    assert request.source["type"] == "mirror"

    bad = await asyncio.to_thread(run_cli, "--root", str(layout.root), "models", "search", "x", "--source", "nope")
    assert bad.returncode == 2 and "use one of: catalog, hf, civitai, mirror" in bad.stderr


async def test_webhook_posts_one_signed_json_per_event(tmp_path):
    """`download URL` finishes: the webhook example posts download.finished once, signed with the secret."""
    layout = root_with_layout(tmp_path)
    copy_example(layout.root, "webhook")
    payload = make_model(tmp_path / "src.safetensors", LORA_KEYS).read_bytes()

    async def file(_request):
        return web.Response(body=payload)

    files = web.Application()
    files.router.add_get("/model.safetensors", file)
    async with webhook_receiver() as receiver, serve(files) as base:
        enable(layout.root, "webhook", url=receiver.url, secret="s3cret-key")
        result = await asyncio.to_thread(
            run_cli, "--root", str(layout.root), "download", base + "/model.safetensors", "--dest", str(tmp_path)
        )
        assert result.returncode == 0, result.output
        assert receiver.events() == ["download.finished"]
        post = receiver.posts[0]
        data = post["body"]["data"]
        assert data["name"] == "model.safetensors" and data["size"] == len(payload)
        assert data["sha256"] == hashlib.sha256(payload).hexdigest()
        assert post["body"]["source"] == "aiui-tui" and post["headers"]["Content-Type"] == "application/json"
        expected = hmac.new(b"s3cret-key", post["raw"], hashlib.sha256).hexdigest()
        assert post["headers"]["X-Aiui-Signature"] == f"sha256={expected}"
        assert "s3cret-key" not in (layout.logs_dir / "aiui.log").read_text()

        # Disabled: the same download posts nothing.
        run_cli("--root", str(layout.root), "plugins", "disable", "webhook")
        result = await asyncio.to_thread(
            run_cli, "--root", str(layout.root), "download", base + "/model.safetensors", "--dest", str(tmp_path / "b")
        )
        assert result.returncode == 0 and len(receiver.posts) == 1


async def test_app_events_are_news_only_and_a_raising_reaction_disables_its_plugin(tmp_path):
    """The first state seen (adopted at start) is not news; later transitions are; an exception in
    aiui_on_event is one warning and that plugin hears nothing more, the others go on."""
    layout = root_with_layout(tmp_path)
    copy_example(layout.root, "webhook")
    write_plugin(
        layout.root,
        "explodes",
        "from aiui_tui.plugins import hookimpl\n\n@hookimpl\n"
        "def aiui_on_event(event):\n    raise KeyError(event.name)\n",
    )
    from aiui_tui.bus import Bus

    async with webhook_receiver() as receiver:
        enable(layout.root, "webhook", url=receiver.url, events=["app.ready", "app.crashed", "app.stopped"])
        enable(layout.root, "explodes")
        seen = []
        service = PluginService(layout, on_warning=seen.append)
        await asyncio.to_thread(service.load)
        bus = Bus()
        bus.bind_loop(asyncio.get_running_loop())
        service.attach(bus)

        def publish(state, **extra):
            bus.publish(AppStateChanged("fooocus", AppStatus("fooocus", "Fooocus", state, **extra)))

        publish("ready", url="http://127.0.0.1:7865/")  # adopted: not news
        publish("stopped")
        publish("starting")
        publish("ready", url="http://127.0.0.1:7865/", profile="high")
        publish("exited", exit_code=137, reason="exited on its own with code 137", last_lines=("Killed",))
        await service.close()
    assert receiver.events() == ["app.stopped", "app.ready", "app.crashed"]
    crashed = receiver.posts[2]["body"]["data"]
    assert crashed == {"app": "fooocus", "title": "Fooocus", "exit_code": 137,
                       "reason": "exited on its own with code 137", "last_lines": ["Killed"]}  # fmt: skip
    assert len(seen) == 1 and "explodes" in seen[0] and "raised in aiui_on_event: KeyError" in seen[0]


async def test_a_slow_reaction_is_cut_off_and_its_plugin_disabled(tmp_path):
    layout = root_with_layout(tmp_path)
    code = """
        import asyncio
        from pathlib import Path
        from aiui_tui.plugins import hookimpl

        @hookimpl
        async def aiui_on_event(event, context):
            Path(context.root, "seen").open("a").write(event.name + "\\n")
            await asyncio.sleep(5)
    """
    write_plugin(layout.root, "sleepy", code)
    enable(layout.root, "sleepy", timeout_s=0.3)
    from aiui_tui.bus import Bus

    seen: list[str] = []
    service = PluginService(layout, on_warning=seen.append)
    await asyncio.to_thread(service.load)
    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    service.attach(bus)
    for state in ("stopped", "starting", "ready", "stopped"):
        bus.publish(AppStateChanged("comfyui", AppStatus("comfyui", "ComfyUI", state)))
    started = asyncio.get_running_loop().time()
    await service.close()
    assert asyncio.get_running_loop().time() - started < 3
    assert seen == ["Plugin sleepy disabled for this session: it was too slow in aiui_on_event: PluginTimeout: "
                    "took longer than 0.3 s (traceback in logs/aiui.log)."]  # fmt: skip
    assert (layout.root / "seen").read_text() == "app.ready\n"  # the next event was not delivered


def test_a_plugin_manifest_over_the_size_limit_is_broken_unread(layout):
    """plugin.toml goes through the same bounded reader as every settings file (issue 15: 7)."""
    from aiui_tui.services.plugins.discovery import BROKEN, discover

    folder = layout.plugins_dir / "huge"
    folder.mkdir(parents=True)
    (folder / "plugin.toml").write_bytes(b'name = "huge"\n' + b"# " + b"x" * (2 * 1024 * 1024) + b"\n")
    info = discover(layout)["huge"]
    assert info.state == BROKEN and "plugin.toml" in info.problem and "MiB" in info.problem


async def test_plugins_copied_in_or_enabled_elsewhere_are_announced_never_loaded(tmp_path):
    """The dashboard's Settings listed plugins once: one copied in later was not seen (issue 16: 4)."""
    from aiui_tui.bus import Bus
    from aiui_tui.core.events import PluginsChanged

    layout = root_with_layout(tmp_path)
    service = PluginService(layout)
    await asyncio.to_thread(service.load)
    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    seen: list[PluginsChanged] = []
    bus.subscribe(seen.append, PluginsChanged)
    service.attach(bus)
    await service.watch(every_s=0.05)

    async def announced(count: int) -> None:
        deadline = asyncio.get_running_loop().time() + 10
        while len(seen) < count:
            assert asyncio.get_running_loop().time() < deadline, f"{len(seen)} announcements, {count} expected"
            await asyncio.sleep(0.02)

    try:
        folder = write_plugin(tmp_path / "elsewhere", "marker", MARKER_PLUGIN)
        os.rename(folder, layout.plugins_dir / "marker")  # copied in while running
        await announced(1)
        assert service.discover()["marker"].state == "disabled"  # listed, off until enabled
        enable(layout.root, "marker")  # `aiui-tui plugins enable marker` from another process
        await announced(2)
        assert service.discover()["marker"].enabled
        assert service.plugins == {} and not (layout.plugins_dir / "marker" / "imported").exists()  # not loaded
    finally:
        await service.close()
    count = len(seen)
    (layout.plugins_dir / "marker" / "plugin.toml").unlink()
    await asyncio.sleep(0.2)
    assert len(seen) == count  # closed: the watch stopped
