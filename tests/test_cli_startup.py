"""Commands that answer at once: what `--version` and the `--json` listings import, and the lazy parser.

Speed itself is measured by bench/commands.py, never asserted here. These tests check the behaviour
the speed comes from: a command's module is imported only when it runs, and the quick answers load
neither pydantic, rich, structlog, textual, tomlkit nor the docker SDK.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from aiui_tui.cli.commands import COMMANDS
from aiui_tui.cli.main import build_parser
from tests.conftest import REPO, init_root
from tests.test_cli import run_main

HEAVY = {"pydantic", "rich", "structlog", "textual", "tomlkit", "docker", "requests"}


def _run_and_list_modules(*args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """`aiui-tui ARGS` in a fresh interpreter: its result and the modules it imported."""
    code = (
        "import json, os, sys\n"
        "from aiui_tui.cli.main import main\n"
        "try:\n"
        f"    code = main({list(args)!r})\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "with open(os.environ['MODULES_OUT'], 'w') as fh:\n"
        "    json.dump(sorted(sys.modules), fh)\n"
        "sys.exit(code)\n"
    )
    fd, name = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    out = Path(name)
    env = {**os.environ, "MODULES_OUT": str(out)}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, cwd=REPO
        )
        modules = set(json.loads(out.read_text()))
    finally:
        out.unlink(missing_ok=True)
    return proc, modules


def _top(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_version_imports_no_command_and_no_heavy_library():
    proc, modules = _run_and_list_modules("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("aiui-tui ")
    assert not HEAVY & _top(modules)
    assert not {m for m in modules if m.endswith("_cmd")}, "no command module is needed to print the version"
    assert "aiui_tui.config" not in modules and "aiui_tui.logs" not in modules


def test_queue_list_json_loads_no_heavy_library(tmp_path):
    init_root(tmp_path / "root")
    proc, modules = _run_and_list_modules("--root", str(tmp_path / "root"), "downloads", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"items": []}
    assert not HEAVY & _top(modules)
    assert "logging.handlers" not in modules  # nothing was logged: the log file's handler is made at a record
    assert {m for m in modules if m.endswith("_cmd")} == {"aiui_tui.cli.queue_cmd", "aiui_tui.cli.download_cmd"}


@pytest.mark.docker
def test_app_list_json_asks_the_engine_without_the_docker_sdk(tmp_path):
    init_root(tmp_path / "root")
    proc, modules = _run_and_list_modules("--root", str(tmp_path / "root"), "app", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["engine"]["available"] is True, answer["engine"]
    assert {"automatic1111", "comfyui", "fooocus"} <= {a["name"] for a in answer["apps"]}
    assert all(a["state"] == "not created" for a in answer["apps"])  # a fresh root: no container of its own
    assert not HEAVY & _top(modules)
    # The engine asked without http.client (and its email parser), the built-in manifests listed without
    # importlib.resources, the settings read without tempfile (only writing them needs it).
    assert not {"http.client", "email.parser", "importlib.resources", "tempfile", "shutil"} & modules
    # Nor what only starting an app needs: the image contract, pulls and their errors, streams' threads.
    apps = "aiui_tui.services.apps."
    assert not {apps + m for m in ("contract", "pull", "pull_errors", "threaded")} & modules


DOWNLOAD_AND_REPORT = """
import json, os, sys
from aiui_tui.cli.main import main
code = main(sys.argv[1:])
report = {"modules": sorted(sys.modules)}
if "aiohttp.connector" in sys.modules:
    import aiohttp.connector as connector
    report["unverifying_context_cas"] = connector._SSL_CONTEXT_UNVERIFIED.cert_store_stats()["x509_ca"]
with open(os.environ["REPORT_OUT"], "w") as fh:
    json.dump(report, fh)
sys.exit(code)
"""


@pytest.fixture(scope="module")
def first_download_command(tmp_path_factory) -> dict:
    """`aiui-tui download URL` (its name asked from the server) in a fresh interpreter, from a file
    server on 127.0.0.1, with a plugin found but not enabled: what it imported, and aiohttp's state."""
    import hashlib
    import http.server
    import threading

    tmp = tmp_path_factory.mktemp("download")
    layout = init_root(tmp / "root")
    (layout.plugins_dir / "idle").mkdir()
    (layout.plugins_dir / "idle" / "plugin.toml").write_text('name = "idle"\napi = "1.0"\n')
    (layout.plugins_dir / "idle" / "plugin.py").write_text("raise SystemExit('never imported')\n")
    www = tmp / "www"
    www.mkdir()
    data = bytes(range(256)) * 16
    (www / "model").write_bytes(data)  # no suffix: its name is asked from the server (as CivitAI's URLs)
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(www), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/model"
    args = ["--root", str(layout.root), "download", url, "--sha256", hashlib.sha256(data).hexdigest()]
    report = tmp / "report.json"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", DOWNLOAD_AND_REPORT, *args, "--dest", str(tmp / "out")],
            capture_output=True,
            text=True,
            env={**os.environ, "REPORT_OUT": str(report)},
            timeout=60,
            cwd=REPO,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stderr
    assert (tmp / "out" / "model").read_bytes() == data
    return json.loads(report.read_text())


def test_a_command_with_no_plugin_enabled_imports_no_plugin_machinery(first_download_command):
    """Plugins are loaded for `download` only when one is enabled: else neither pluggy nor the plugin
    service is imported (tests/plugins: an enabled one still hears the download's events)."""
    modules = set(first_download_command["modules"])
    assert "pluggy" not in _top(modules)
    assert not {"aiui_tui.services.plugins.service", "aiui_tui.services.plugins.api"} & modules
    assert "aiui_tui.services.downloads.transfer" in modules  # it did download


def test_the_packaged_tables_are_read_without_importlib_resources(first_download_command):
    """The kinds table (the --kind choices) is read through its package's loader (pkgutil): importing
    importlib.resources (tempfile, random, zipfile...) cost ~10 ms of every command's start."""
    assert "importlib.resources" not in set(first_download_command["modules"])


def test_the_download_command_loads_no_ca_bundle_into_aiohttps_context_that_verifies_nothing(
    first_download_command,
):
    """The file's name asked from the server first: aiohttp is imported by the service's own path even
    then, which skips the CA bundle of the context for `ssl=False` (~50 ms of start-up)."""
    if not ssl_default_cas():
        pytest.skip("no system CA bundle here: nothing to compare")
    assert first_download_command["unverifying_context_cas"] == 0


def test_the_download_command_builds_the_download_events_only(first_download_command):
    """Each service's events are a module of their own, imported on first use: a download does not
    build the apps', the monitor's or the library's event classes (nor import what they describe)."""
    modules = set(first_download_command["modules"])
    assert "aiui_tui.core.events.downloads" in modules
    others = {"aiui_tui.core.events.apps", "aiui_tui.core.events.monitor", "aiui_tui.core.events.library"}
    assert not (others | {"aiui_tui.core.apps", "aiui_tui.core.monitor"}) & modules


def test_every_event_name_resolves_to_the_class_of_its_module():
    """`from aiui_tui.core.events import X` finds each service's events, listed by `dir()` (the TUI's
    tests enumerate them) and the same object as in its own module."""
    import importlib
    import inspect

    from aiui_tui.core import events

    for section, names in events._SECTIONS.items():
        for name in names:
            assert getattr(events, name) is getattr(importlib.import_module(f"{events.__name__}.{section}"), name), name
    classes = {name for name, c in inspect.getmembers(events, inspect.isclass) if issubclass(c, events.Event)}
    assert {"Event", "Notice", "ConfigChanged", "PluginsChanged", "DownloadProgress", "AppStateChanged"} <= classes
    assert len(classes) == 19
    with pytest.raises(AttributeError):
        events.NoSuchEvent  # noqa: B018


def ssl_default_cas() -> int:
    import ssl

    return int(ssl.create_default_context().cert_store_stats()["x509_ca"])


def test_the_table_says_what_each_module_registers():
    """`aiui-tui --help` is built from the table without importing the commands: it must say the same."""
    full = build_parser()
    lazy = build_parser(load=())
    full_help = {a.dest: a.help for a in full._subparsers._group_actions[0]._choices_actions}
    assert full_help == {name: help_text for name, (_module, help_text) in COMMANDS.items()}
    assert list(full_help) == list(COMMANDS)  # the order --help lists them in
    assert lazy.format_help() == full.format_help()


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_help_is_the_same_when_only_it_is_loaded(name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    full = build_parser()._subparsers._group_actions[0].choices[name]
    alone = build_parser(load=(name,))._subparsers._group_actions[0].choices[name]
    assert alone.format_help() == full.format_help()


def test_help_and_command_help_in_process(capsys):
    with pytest.raises(SystemExit) as done:
        run_main(capsys, "--help")
    assert done.value.code == 0
    listed = capsys.readouterr().out
    for name, (_module, help_text) in COMMANDS.items():
        assert name in listed and help_text.split()[0] in listed
    with pytest.raises(SystemExit):
        run_main(capsys, "downloads", "--help")
    assert "every download with its state" in capsys.readouterr().out


def test_global_option_errors_are_said_once(capsys):
    code = None
    with pytest.raises(SystemExit) as done:
        code = run_main(capsys, "--root")
    assert code is None and done.value.code == 2
    err = capsys.readouterr().err
    assert err.count("expected one argument") == 1 and "usage:" not in err


def test_a_bad_config_still_names_file_line_and_key(tmp_path, capsys):
    layout = init_root(tmp_path / "root")
    text = layout.config_file.read_text().replace("concurrent = 2", "concurrent = 99")
    layout.config_file.write_text(text)
    line = text.splitlines().index("concurrent = 99") + 1
    code, out, err = run_main(capsys, "--root", str(layout.root), "downloads", "list", "--json")
    assert code == 2 and out == ""
    assert f"{layout.config_file} line {line}, key downloads.concurrent:" in err
    assert "less than or equal to 16 (got 99)" in err and "Fix: correct the value" in err


def test_engine_refusal_without_the_sdk_loaded():
    from aiui_tui.services.engine import ReadOnlyEngine, engine_refusal

    problem = engine_refusal(ReadOnlyEngine.Error("ConnectionRefusedError: Connection refused"), "unix:///x.sock")
    assert problem is not None and "connection refused" in problem.message
    assert engine_refusal(ValueError("not docker"), "unix:///x.sock") is None


def test_scripts_run_writes_bytecode_even_with_dontwritebytecode(tmp_path):
    """An editable install writes no bytecode; scripts/run compiles the checkout once, and again
    when a source is newer, so starts do not compile ~80 modules each time."""
    import shutil

    checkout = tmp_path / "checkout"
    shutil.copytree(REPO / "aiui_tui", checkout / "aiui_tui", ignore=shutil.ignore_patterns("__pycache__"))
    (checkout / "scripts").mkdir()
    shutil.copy2(REPO / "scripts" / "run", checkout / "scripts" / "run")
    shutil.copy2(REPO / "pyproject.toml", checkout / "pyproject.toml")
    venv_bin = checkout / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(sys.executable)
    entry = venv_bin / "aiui-tui"
    entry.write_text(f'#!/bin/sh\nPYTHONPATH={checkout} exec {sys.executable} -m aiui_tui "$@"\n')
    entry.chmod(0o755)
    (checkout / ".venv" / ".aiui-installed").touch()  # newer than pyproject.toml: no pip install
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}

    def run() -> str:
        done = subprocess.run(
            ["bash", str(checkout / "scripts" / "run"), "--version"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert run().startswith("aiui-tui ")
    compiled = list((checkout / "aiui_tui" / "cli" / "__pycache__").glob("main.*.pyc"))
    assert compiled, "scripts/run compiled the package"
    first = compiled[0].stat().st_mtime_ns
    source = checkout / "aiui_tui" / "cli" / "main.py"
    later = first + 5 * 10**9
    os.utime(source, ns=(later, later))
    run()
    assert compiled[0].stat().st_mtime_ns > first, "a newer source is compiled again"


@pytest.mark.docker
def test_the_read_only_engine_sees_what_the_docker_sdk_sees(docker_client, busybox_image, tmp_path):
    """`app list` reads containers through the light client: the same labels, state and port bindings."""
    from aiui_tui.config import Docker
    from aiui_tui.services.engine import connect_read_only

    label = {"aiui.test-read-only": str(tmp_path)}
    running = docker_client.containers.run(
        busybox_image, ["sleep", "60"], detach=True, labels=label, ports={"8080/tcp": ("127.0.0.1", None)}
    )
    stopped = docker_client.containers.create(busybox_image, ["true"], labels=label)
    try:
        wanted = {"label": f"aiui.test-read-only={tmp_path}"}
        client = connect_read_only(Docker())
        light = {c.id: c for c in client.containers.list(all=True, filters=wanted)}
        sdk = {c.id: c for c in docker_client.containers.list(all=True, filters=wanted)}
        assert set(light) == set(sdk) == {running.id, stopped.id}
        for cid, c in sdk.items():
            assert (light[cid].labels, light[cid].status, light[cid].name) == (c.labels, c.status, c.name)
            assert light[cid].attrs["HostConfig"]["PortBindings"] == c.attrs["HostConfig"]["PortBindings"]
        assert light[running.id].status == "running" and light[stopped.id].status == "created"
        assert client.containers.list(all=False, filters=wanted)[0].id == running.id
    finally:
        running.remove(force=True)
        stopped.remove(force=True)


@pytest.mark.docker
def test_app_list_probes_a_running_app_without_aiohttp(tmp_path, docker_client, busybox_image, capsys):
    """A running app is "ready" when its UI answers: one probe with the standard library."""
    from aiui_tui.services.apps.spec import LABEL_ROOT
    from tests.apps.test_docker_apps import free_port, manifest

    root = tmp_path / "root"
    init_root(root)
    port = free_port()
    command = f'["sh", "-c", "exec httpd -f -p 127.0.0.1:{port} -h /www"]'
    (root / "config" / "apps" / "stand-in.toml").write_text(manifest("stand-in", busybox_image, port, command))
    try:
        code, _out, err = run_main(capsys, "--root", str(root), "app", "start", "stand-in")
        assert code == 0, err
        proc, modules = _run_and_list_modules("--root", str(root), "app", "list", "--json")
        assert proc.returncode == 0, proc.stderr
        states = {a["name"]: a["state"] for a in json.loads(proc.stdout)["apps"]}
        assert states["stand-in"] == "ready"
        assert not (HEAVY | {"aiohttp"}) & _top(modules)
        docker_client.containers.list(filters={"label": f"{LABEL_ROOT}={root}"})[0].kill()
        proc, _modules = _run_and_list_modules("--root", str(root), "app", "list", "--json")
        states = {a["name"]: a["state"] for a in json.loads(proc.stdout)["apps"]}
        assert states["stand-in"] == "stopped"  # killed: exit code 137
    finally:
        for c in docker_client.containers.list(all=True, filters={"label": f"{LABEL_ROOT}={root}"}):
            c.remove(force=True)


def test_the_dashboard_with_only_global_options_is_started_without_argparse():
    """`aiui-tui` and `aiui-tui --root DIR` reach the dashboard without importing argparse (here it
    stops at once: no terminal)."""
    for args in ((), ("--root", tempfile.gettempdir() + "/aiui-no-such-root")):
        proc, modules = _run_and_list_modules(*args)
        assert proc.returncode == 2 and "the dashboard needs a terminal" in proc.stderr
        assert "argparse" not in modules


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--root", "/r"],
        ["--root=/r"],
        ["--log-level", "debug"],
        ["--log-level=Info", "--root", "r"],
        ["--root", "a", "--root", "b"],
        ["--ro", "x"],  # an abbreviation: argparse's
        ["--root"],  # no value: the full parser says so
        ["--log-level", "loud"],
        ["--root", "-x"],
        ["app", "list"],
        ["--root", "r", "app"],
        ["--version"],
    ],
)
def test_the_dashboards_quick_look_at_the_arguments_agrees_with_argparse(argv):
    """Where the quick look answers, argparse's first look answers the same; where it does not, the
    parsers decide as before."""
    from aiui_tui.cli.main import _plain_dashboard
    from aiui_tui.cli.parser import dashboard_args

    quick, full = _plain_dashboard(argv), dashboard_args(argv)
    if quick is not None:
        assert full is not None and vars(quick) == vars(full)


def test_paths_read_no_kinds_table_until_the_layouts_folders_are_listed():
    """The dashboard's first frame resolves the root without the kinds table (tomllib): the folders
    missing from the layout (one per kind) are looked for after it."""
    code = (
        "import sys\n"
        "from aiui_tui.paths import Layout, resolve_root, root_problem\n"
        "layout = Layout(resolve_root('/tmp/aiui-no-such-root'))\n"
        "root_problem(layout.root)\n"
        "before = {'aiui_tui.kinds', 'tomllib'} & set(sys.modules)\n"
        "layout.folders()\n"
        "print(sorted(before), sorted({'aiui_tui.kinds', 'tomllib'} & set(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[]", "['aiui_tui.kinds',", "'tomllib']"]


def test_a_command_collects_garbage_again_once_it_has_started(tmp_path, capsys, monkeypatch):
    """`main()` as the program holds the collector during start-up (cli.startup): a command that opens
    no services collects again from its handler on; `app` commands once their services are open."""
    import gc

    from aiui_tui.cli import queue_cmd, startup
    from aiui_tui.services.apps import AppService

    root = tmp_path / "root"
    init_root(root)
    seen: dict[str, bool] = {}
    queue_run, app_start = queue_cmd.run, AppService.start

    def queue_handler(ctx):
        seen["downloads handler"] = gc.isenabled()
        return queue_run(ctx)

    async def starting(self, **kwargs):
        seen["app service starting"] = gc.isenabled()
        await app_start(self, **kwargs)

    monkeypatch.setattr(queue_cmd, "run", queue_handler)
    monkeypatch.setattr(AppService, "start", starting)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")  # the listing needs no engine
    try:
        for argv in (["downloads", "list", "--json"], ["app", "list", "--json"]):
            startup.hold_gc()
            assert not gc.isenabled() and startup.held()
            code, _out, err = run_main(capsys, "--root", str(root), *argv)
            assert code == 0, err
            assert gc.isenabled() and not startup.held()
    finally:
        gc.unfreeze()
        gc.enable()
    assert seen == {"downloads handler": True, "app service starting": False}


def test_main_as_a_callee_leaves_the_collector_alone(tmp_path, capsys):
    import gc

    init_root(tmp_path / "root")
    gc.disable()
    try:
        assert run_main(capsys, "--root", str(tmp_path / "root"), "downloads", "list", "--json")[0] == 0
        assert not gc.isenabled()  # main(argv) neither held nor released it
    finally:
        gc.enable()


class _EngineStandIn:
    """An HTTP/1.1 server on a unix socket answering as the engine may: sized, chunked, an error, or
    cut short."""

    def __init__(self, path: Path) -> None:
        import http.server
        import socketserver
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # a unix socket's client has no address to log
                pass

            def do_GET(self):
                body = json.dumps({"path": self.path, "items": list(range(2000))}).encode()
                if self.path.startswith("/chunked"):
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(0, len(body), 1000):
                        piece = body[i : i + 1000]
                        self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                elif self.path == "/missing":
                    self.send_response(404)
                    self.send_header("Content-Length", "22")
                    self.end_headers()
                    self.wfile.write(b'{"message":"no such"}\n')
                elif self.path == "/notjson":
                    self.send_response(200)
                    self.send_header("Content-Length", "5")
                    self.end_headers()
                    self.wfile.write(b"hello")
                elif self.path == "/cut":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[:100])
                    self.close_connection = True
                else:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

        self.server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_light_engine_client_reads_sized_and_chunked_answers(tmp_path):
    from aiui_tui.services.engine import ReadOnlyEngine, engine_refusal

    stand_in = _EngineStandIn(tmp_path / "engine.sock")
    try:
        client = ReadOnlyEngine(str(tmp_path / "engine.sock"), timeout=10)
        wanted = list(range(2000))
        assert client.get("/containers/json?all=1") == {"path": "/containers/json?all=1", "items": wanted}
        assert client.get("/chunked/x") == {"path": "/chunked/x", "items": wanted}
        with pytest.raises(ReadOnlyEngine.Error, match=r"404 .*no such"):
            client.get("/missing")
        with pytest.raises(ReadOnlyEngine.Error, match="ended after 100 of") as cut:
            client.get("/cut")
        problem = engine_refusal(cut.value, "unix:///engine.sock")
        assert problem is not None and "Docker engine not reachable at unix:///engine.sock" in problem.message
        with pytest.raises(ReadOnlyEngine.Error, match="the answer to /notjson is not JSON") as garbled:
            client.get("/notjson")  # something else on the engine's socket: one line, not a traceback
        assert engine_refusal(garbled.value, "unix:///engine.sock") is not None
    finally:
        stand_in.close()


def test_an_answer_without_an_end_of_its_headers_is_refused_not_read_forever():
    import contextlib
    import socket
    import threading

    from aiui_tui.services.engine import MAX_HEAD, http_get

    ours, peer = socket.socketpair()
    ours.settimeout(10)

    def talk() -> None:
        with contextlib.suppress(OSError):  # we stop listening part-way: a broken pipe here
            peer.sendall(b"x" * (MAX_HEAD * 4))

    talker = threading.Thread(target=talk, daemon=True)
    talker.start()
    try:
        with pytest.raises(ValueError, match="no end of the headers"):
            http_get(ours, "/", "peer")
    finally:
        ours.close()
        talker.join(10)
        peer.close()


def test_one_readiness_probe_reads_the_status_only(tmp_path):
    """`app list`'s probe of a running UI: under 500 answers, 5xx or nothing listening does not."""
    import http.server
    import threading

    from aiui_tui.services.apps.readiness import answers_once

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(int(self.path.strip("/").split("?")[0]))
            self.end_headers()
            self.wfile.write(b"x" * 100_000)  # a page: the probe does not wait for it all

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        assert answers_once(f"http://127.0.0.1:{port}/200?x=1")
        assert answers_once(f"http://127.0.0.1:{port}/404")
        assert not answers_once(f"http://127.0.0.1:{port}/503")
    finally:
        server.shutdown()
        server.server_close()
    assert not answers_once(f"http://127.0.0.1:{port}/200", timeout_s=2)  # nothing listens now


def test_the_dashboard_command_collects_no_garbage_from_before_asyncio(tmp_path):
    """In a terminal the collector is off from the dashboard command's start (aiui_tui.tui), before
    asyncio and Textual are imported, not only from the app's import on."""
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    code = f"""
import gc, sys

class Terminal:
    def isatty(self):
        return True

    def __getattr__(self, name):
        return getattr(sys.__stdout__, name)

seen = []

class Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "asyncio":
            seen.append(gc.isenabled())

sys.meta_path.insert(0, Watch())
from aiui_tui.cli.tui_cmd import run_tui

assert "asyncio" not in sys.modules
sys.stdout = Terminal()
code = run_tui({str(not_a_folder)!r}, None)  # a data root that is a file: refused before the screen
sys.stdout = sys.__stdout__
print("COLLECTING WHEN ASYNCIO WAS IMPORTED", seen, "EXIT", code)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert "COLLECTING WHEN ASYNCIO WAS IMPORTED [False] EXIT 2" in proc.stdout, proc.stdout + proc.stderr


def test_settings_fields_resolve_to_the_types_typing_resolves():
    """Each settings class evaluates its own annotations once (not every base's again, ~1 ms a class of
    every start): the fields' types are those `typing.get_type_hints` gives, for every class of the
    config and the app manifests."""
    import typing

    from aiui_tui import config
    from aiui_tui.schema import Section
    from aiui_tui.services.apps import manifest_schema

    classes = [
        c
        for module in (config, manifest_schema)
        for c in vars(module).values()
        if isinstance(c, type) and issubclass(c, Section) and c is not Section and c.__module__ == module.__name__
    ]
    assert len(classes) >= 15
    for cls in classes:
        hints = typing.get_type_hints(cls)
        assert {n: f.annotation for n, f in cls.model_fields.items()} == {n: hints[n] for n in cls.model_fields}, cls


@pytest.mark.parametrize("columns", ["100", "37", None])
def test_help_is_formatted_as_argparse_formats_it(columns, monkeypatch):
    """The parsers' formatter is told the width (no shutil import): every command's help is what
    argparse's own formatter writes at the same width ($COLUMNS, or the 80 of no terminal)."""
    import argparse

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    parser = build_parser()
    parsers = [parser, *parser._subparsers._group_actions[0].choices.values()]
    app = parser._subparsers._group_actions[0].choices["app"]
    parsers += list(app._subparsers._group_actions[0].choices.values())
    for each in parsers:
        ours = each.format_help()
        each.formatter_class = argparse.HelpFormatter
        assert ours == each.format_help(), each.prog
