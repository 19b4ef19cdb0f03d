"""`aiui-tui app ...` and `stats` as a user runs them (in this process, one start as a subprocess; the real engine)."""

from __future__ import annotations

import json

import pytest

from aiui_tui.cli.main import main
from aiui_tui.services.apps.spec import LABEL_ROOT
from tests.apps.test_docker_apps import free_port, manifest
from tests.conftest import CliResult, one_line_error


@pytest.fixture
def app_root(tmp_path, docker_client):
    root = tmp_path / "root"
    (root / "config" / "apps").mkdir(parents=True)
    yield root
    for c in docker_client.containers.list(all=True, filters={"label": f"{LABEL_ROOT}={root}"}):
        c.remove(force=True)


@pytest.mark.docker
def test_app_start_status_logs_stats_stop(cli, capsys, app_root, busybox_image):
    port = free_port()
    command = f'["sh", "-c", "echo hello from the stand-in; exec httpd -f -p 127.0.0.1:{port} -h /www"]'
    (app_root / "config" / "apps" / "stand-in.toml").write_text(manifest("stand-in", busybox_image, port, command))
    root = ("--root", str(app_root))
    url = f"http://127.0.0.1:{port}/"

    listing = json.loads(run_main(capsys, *root, "app", "list", "--json").stdout)
    assert {"stand-in", "fooocus", "comfyui", "automatic1111"} <= {a["name"] for a in listing["apps"]}

    started = cli(*root, "app", "start", "stand-in")  # as installed: the URL alone on stdout
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == url
    assert "is ready" in started.stderr

    status = json.loads(run_main(capsys, *root, "app", "status", "stand-in", "--json").stdout)
    assert status["apps"][0]["state"] == "ready" and status["apps"][0]["url"] == url

    assert run_main(capsys, *root, "app", "logs", "stand-in", "--tail", "5").stdout == "hello from the stand-in\n"

    stats = json.loads(run_main(capsys, *root, "stats", "--json").stdout)
    assert [c["name"] for c in stats["containers"]] == ["stand-in"]
    assert stats["containers"][0]["memory_used"] > 0

    stopped = run_main(capsys, *root, "app", "stop", "stand-in")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert json.loads(run_main(capsys, *root, "app", "status", "--json").stdout)["apps"][-1]["state"] == "stopped"

    again = run_main(capsys, *root, "app", "start", "stand-in", "--json")  # for scripts (issue 16)
    assert again.returncode == 0 and again.stderr == "", again.output
    data = json.loads(again.stdout)
    assert [(a["name"], a["state"], a["url"]) for a in data["apps"]] == [("stand-in", "ready", url)]
    assert data["engine"]["available"] is True and "error" not in data
    stopped = json.loads(run_main(capsys, *root, "app", "stop", "stand-in", "--json").stdout)
    assert stopped["apps"][0]["state"] == "stopped"


@pytest.mark.docker
def test_app_list_probes_the_running_uis_side_by_side(capsys, app_root, busybox_image, docker_client):
    """`app list` asks each running app's UI once, all at the same time: two UIs that answer only when
    both are asked at once (else 503 after 5 s, past the probe's 2 s) are both ready."""
    import http.server
    import threading

    from aiui_tui.services.apps.spec import LABEL_APP

    both_asked = threading.Barrier(2, timeout=5)

    class TwoAtOnce(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            try:
                both_asked.wait()
                self.send_response(200)
            except threading.BrokenBarrierError:
                self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), TwoAtOnce) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for i, server in enumerate(servers):
            name, port = f"ui-{i}", server.server_address[1]
            (app_root / "config" / "apps" / f"{name}.toml").write_text(manifest(name, busybox_image, port))
            labels = {LABEL_APP: name, LABEL_ROOT: str(app_root)}  # as if started by `app start`
            run = docker_client.containers.run
            run(busybox_image, ["sleep", "60"], labels=labels, network_mode="host", detach=True)
        listing = json.loads(run_main(capsys, "--root", str(app_root), "app", "list", "--json").stdout)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    assert {a["name"]: a["state"] for a in listing["apps"] if a["name"].startswith("ui-")} == {
        "ui-0": "ready",
        "ui-1": "ready",
    }


@pytest.mark.docker
def test_app_start_failure_exits_one_with_the_last_log_lines(capsys, app_root, busybox_image):
    command = '["sh", "-c", "echo torch not compiled with CUDA; exit 1"]'
    (app_root / "config" / "apps" / "bad.toml").write_text(manifest("bad", busybox_image, free_port(), command))
    result = run_main(capsys, "--root", str(app_root), "app", "start", "bad")
    assert result.returncode == 1
    assert "exited with code 1 while starting" in result.stderr
    assert "| torch not compiled with CUDA" in result.stderr
    assert "Traceback" not in result.output
    failed = run_main(capsys, "--root", str(app_root), "app", "start", "bad", "--json")
    data = json.loads(failed.stdout)
    assert failed.returncode == 1 and data["apps"][0]["state"] == "exited" and data["apps"][0]["exit_code"] == 1
    assert "exited with code 1" in data["error"]["message"]
    assert data["error"]["last_lines"] == ["torch not compiled with CUDA"]


def test_unreachable_engine_is_one_line_with_the_fix(capsys, layout, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{layout.root}/no.sock")
    result = run_main(capsys, "--root", str(layout.root), "app", "start", "fooocus")
    assert result.returncode == 1
    assert "Docker engine not reachable" in result.stderr and "no engine listens there" in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
    listing = run_main(capsys, "--root", str(layout.root), "app", "list")
    assert listing.returncode == 0 and "fooocus" in listing.stdout


def run_main(capsys, *args: str) -> CliResult:
    """`aiui-tui ARGS` in this process (no interpreter start): exit code and captured output."""
    code = main(list(args))
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


BROKEN = 'name = "broken"\nimage = "x"\nport = "high"\n'


def test_a_broken_manifest_is_listed_with_its_error_and_the_other_apps_work(capsys, layout, monkeypatch):
    """Issue 16: one bad manifest no longer refuses every app: it is listed as broken with its line."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{layout.root}/no.sock")
    (layout.user_apps_dir / "broken.toml").write_text(BROKEN)
    root = ("--root", str(layout.root))
    where = f"{layout.user_apps_dir / 'broken.toml'} line 3, key port:"

    listing = run_main(capsys, *root, "app", "list")
    assert listing.returncode == 0, listing.output
    line = next(row for row in listing.stdout.splitlines() if row.startswith("broken "))
    assert "broken " + where in " ".join(line.split()) and "(got 'high')" in line and "Fix: correct the value" in line
    assert "fooocus" in listing.stdout and "comfyui" in listing.stdout

    rows = {row["name"]: row for row in json.loads(run_main(capsys, *root, "app", "list", "--json").stdout)["apps"]}
    assert rows["broken"]["state"] == "broken" and rows["broken"]["error"].startswith(where)
    assert rows["broken"]["fix"] and rows["fooocus"]["error"] == "" and rows["fooocus"]["port"] == 7865

    one_line_error(run_main(capsys, *root, "app", "start", "broken"), where, "(got 'high')", "Fix: correct the value")
    status = json.loads(run_main(capsys, *root, "app", "status", "broken", "--json").stdout)
    assert status["apps"][0]["state"] == "broken" and status["apps"][0]["reason"].startswith(where)


def test_every_app_json_answer_has_one_engine_shape_when_docker_is_down(capsys, layout, monkeypatch):
    """Issue 16: `--json` answers the same shape with Docker down: the apps, `engine` with
    available false, reason and fix, and `error` where the command could not do its job."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{layout.root}/no.sock")
    root = ("--root", str(layout.root))
    engine = {
        "address": f"unix://{layout.root}/no.sock",
        "available": False,
        "reason": f"Docker engine not reachable at unix://{layout.root}/no.sock: no engine listens there.",
        "fix": "start it (sudo systemctl start docker), or set docker.host in config/aiui.toml or DOCKER_HOST",
    }
    listing = run_main(capsys, *root, "app", "list", "--json")
    assert listing.returncode == 0 and json.loads(listing.stdout)["engine"] == engine
    assert json.loads(run_main(capsys, *root, "stats", "--json").stdout)["engine"] == engine
    for command in (("status",), ("status", "fooocus"), ("start", "fooocus"), ("restart", "comfyui"),
                    ("stop", "fooocus"), ("check-update", "fooocus")):  # fmt: skip
        result = run_main(capsys, *root, "app", *command, "--json")
        data = json.loads(result.stdout)  # JSON, not a red line
        assert result.returncode == 1 and result.stderr == "", (command, result.output)
        assert data["engine"] == engine and data["error"]["message"] == engine["reason"], command
        assert all(a["state"] == "unknown" for a in data["apps"]) and data["apps"], command


def test_unknown_app_lists_the_known_ones(capsys, layout, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent")
    result = run_main(capsys, "--root", str(layout.root), "app", "status", "nope")
    assert result.returncode == 2 and "No app named 'nope'" in result.stderr and "fooocus" in result.stderr


def test_app_options_show_set_and_refuse(capsys, layout):
    root = layout.root
    shown = run_main(capsys, "--root", str(root), "app", "options", "comfyui", "--json")
    assert shown.returncode == 0, shown.output
    data = json.loads(shown.stdout)
    rows = {r["option"]: r for r in data["options"]}
    assert rows["precision"]["value"] == "auto" and "bf16" in rows["precision"]["choices"]
    assert data["recommended_profile"] in ("cpu", "low", "normal", "high") and data["why"]

    saved = run_main(capsys, "--root", str(root), "app", "options", "comfyui", "precision=fp8", "model_cache=none")
    assert saved.returncode == 0, saved.output
    text = (root / "config" / "aiui.toml").read_text()
    assert "[apps.overrides.comfyui.options]" in text and 'precision = "fp8"' in text
    again = json.loads(run_main(capsys, "--root", str(root), "app", "options", "comfyui", "--json").stdout)
    rows = {r["option"]: r for r in again["options"]}
    assert rows["precision"]["value"] == "fp8" and rows["model_cache"]["value"] == "none"

    bad = run_main(capsys, "--root", str(root), "app", "options", "comfyui", "precision=fp64")
    assert bad.returncode == 2 and "choose one of: auto, fp16, bf16, fp8, fp32" in bad.stderr
    assert 'precision = "fp8"' in (root / "config" / "aiui.toml").read_text()  # nothing lost
