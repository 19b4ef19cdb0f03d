"""`aiui-tui app ...` and `stats` as a user runs them (subprocesses, the real engine)."""

from __future__ import annotations

import json

import pytest

from aiui_tui.services.apps.spec import LABEL_ROOT
from tests.apps.test_docker_apps import free_port, manifest


@pytest.fixture
def app_root(tmp_path, docker_client):
    root = tmp_path / "root"
    (root / "config" / "apps").mkdir(parents=True)
    yield root
    for c in docker_client.containers.list(all=True, filters={"label": f"{LABEL_ROOT}={root}"}):
        c.remove(force=True)


@pytest.mark.docker
def test_app_start_status_logs_stats_stop(cli, app_root, busybox_image):
    port = free_port()
    command = f'["sh", "-c", "echo hello from the stand-in; exec httpd -f -p 127.0.0.1:{port} -h /www"]'
    (app_root / "config" / "apps" / "stand-in.toml").write_text(manifest("stand-in", busybox_image, port, command))
    root = ("--root", str(app_root))

    listing = json.loads(cli(*root, "app", "list", "--json").stdout)
    assert {"stand-in", "fooocus", "comfyui", "automatic1111"} <= {a["name"] for a in listing["apps"]}

    started = cli(*root, "app", "start", "stand-in")
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == f"http://127.0.0.1:{port}/"
    assert "is ready" in started.stderr

    status = json.loads(cli(*root, "app", "status", "stand-in", "--json").stdout)
    assert status["apps"][0]["state"] == "ready" and status["apps"][0]["url"] == f"http://127.0.0.1:{port}/"

    assert cli(*root, "app", "logs", "stand-in", "--tail", "5").stdout == "hello from the stand-in\n"

    stats = json.loads(cli(*root, "stats", "--json").stdout)
    assert [c["name"] for c in stats["containers"]] == ["stand-in"]
    assert stats["containers"][0]["memory_used"] > 0

    stopped = cli(*root, "app", "stop", "stand-in")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert json.loads(cli(*root, "app", "status", "--json").stdout)["apps"][-1]["state"] == "stopped"


@pytest.mark.docker
def test_app_start_failure_exits_one_with_the_last_log_lines(cli, app_root, busybox_image):
    command = '["sh", "-c", "echo torch not compiled with CUDA; exit 1"]'
    (app_root / "config" / "apps" / "bad.toml").write_text(manifest("bad", busybox_image, free_port(), command))
    result = cli("--root", str(app_root), "app", "start", "bad")
    assert result.returncode == 1
    assert "exited with code 1 while starting" in result.stderr
    assert "| torch not compiled with CUDA" in result.stderr
    assert "Traceback" not in result.output


def test_unreachable_engine_is_one_line_with_the_fix(cli, tmp_path):
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no.sock"}
    result = cli("--root", str(tmp_path / "root"), "app", "start", "fooocus", env=env)
    assert result.returncode == 1
    assert "Docker engine not reachable" in result.stderr and "no engine listens there" in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
    listing = cli("--root", str(tmp_path / "root"), "app", "list", env=env)
    assert listing.returncode == 0 and "fooocus" in listing.stdout


def test_bad_user_manifest_is_one_line_and_exit_two(cli, tmp_path):
    root = tmp_path / "root"
    (root / "config" / "apps").mkdir(parents=True)
    (root / "config" / "apps" / "mine.toml").write_text('name = "mine"\nimage = "x"\nport = "high"\n')
    result = cli("--root", str(root), "app", "list")
    assert result.returncode == 2
    assert "mine.toml line 3, key port" in result.stderr and "Traceback" not in result.output


def test_unknown_app_lists_the_known_ones(cli, tmp_path):
    result = cli("--root", str(tmp_path / "root"), "app", "status", "nope", env={"DOCKER_HOST": "unix:///nonexistent"})
    assert result.returncode == 2 and "No app named 'nope'" in result.stderr and "fooocus" in result.stderr


def test_app_options_show_set_and_refuse(cli, root):
    shown = cli("--root", str(root), "app", "options", "comfyui", "--json")
    assert shown.returncode == 0, shown.output
    data = json.loads(shown.stdout)
    rows = {r["option"]: r for r in data["options"]}
    assert rows["precision"]["value"] == "auto" and "bf16" in rows["precision"]["choices"]
    assert data["recommended_profile"] in ("cpu", "low", "normal", "high") and data["why"]

    saved = cli("--root", str(root), "app", "options", "comfyui", "precision=fp8", "model_cache=none")
    assert saved.returncode == 0, saved.output
    text = (root / "config" / "aiui.toml").read_text()
    assert "[apps.overrides.comfyui.options]" in text and 'precision = "fp8"' in text
    rows = {
        r["option"]: r
        for r in json.loads(cli("--root", str(root), "app", "options", "comfyui", "--json").stdout)["options"]
    }
    assert rows["precision"]["value"] == "fp8" and rows["model_cache"]["value"] == "none"

    bad = cli("--root", str(root), "app", "options", "comfyui", "precision=fp64")
    assert bad.returncode == 2 and "choose one of: auto, fp16, bf16, fp8, fp32" in bad.stderr
    assert 'precision = "fp8"' in (root / "config" / "aiui.toml").read_text()  # nothing lost
