"""doctor: each check against real things (engine, folders, a local HTTP server), NVML faked."""

from __future__ import annotations

import json

import pytest
from aiohttp import web

from aiui_tui.config import Config
from aiui_tui.paths import Layout
from aiui_tui.services.doctor import DoctorContext, check_data_root, check_gpu, check_network, run_checks
from tests.conftest import init_root, run_cli
from tests.fake_nvml import FakeGpu, FakeNvml
from tests.http_server import serve

CLOSED_PORT_URL = "http://127.0.0.1:9"  # discard port: nothing listens


def _config(**sources) -> Config:
    return Config.model_validate(
        {"sources": sources or {"huggingface_url": CLOSED_PORT_URL, "civitai_url": CLOSED_PORT_URL}}
    )


@pytest.mark.docker
def test_doctor_json_against_the_real_engine(tmp_path):
    root = tmp_path / "r"
    init_root(root)
    run_cli("--root", str(root), "config", "set", "sources.huggingface_url", CLOSED_PORT_URL)
    run_cli("--root", str(root), "config", "set", "sources.civitai_url", CLOSED_PORT_URL)
    result = run_cli("--root", str(root), "doctor", "--json")
    data = json.loads(result.stdout)
    by_name = {c["name"]: c for c in data["checks"]}
    assert list(by_name) == [
        "python",
        "data root",
        "disk",
        "docker",
        "nvidia runtime",
        "docker network",
        "gpu",
        "network: huggingface",
        "network: civitai",
    ]
    assert all(set(c) == {"name", "status", "detail", "fix"} for c in data["checks"])
    assert by_name["docker"]["status"] == "ok" and by_name["docker"]["detail"].startswith("engine ")
    assert by_name["nvidia runtime"]["status"] == "warn" and "nvidia-ctk" in by_name["nvidia runtime"]["fix"]
    assert by_name["gpu"]["status"] == "warn"  # no NVIDIA driver on this machine
    assert by_name["network: civitai"]["status"] == "warn"
    assert result.returncode == (1 if any(c["status"] == "fail" for c in data["checks"]) else 0)


@pytest.mark.docker
def test_docker_check_ok_while_engine_runs_fail_with_fix_when_stopped(private_engine, tmp_path):
    root = tmp_path / "r"
    init_root(root)
    private_engine.start()
    env = {"DOCKER_HOST": private_engine.host}
    running = json.loads(run_cli("--root", str(root), "doctor", "--json", env=env).stdout)
    docker_check = next(c for c in running["checks"] if c["name"] == "docker")
    assert docker_check["status"] == "ok" and private_engine.host in docker_check["detail"]

    private_engine.stop()
    result = run_cli("--root", str(root), "doctor", "--json", env=env)
    stopped = json.loads(result.stdout)
    docker_check = next(c for c in stopped["checks"] if c["name"] == "docker")
    assert docker_check["status"] == "fail"
    assert docker_check["detail"] == f"Docker engine not reachable at {private_engine.host}: no engine listens there."
    assert "sudo systemctl start docker" in docker_check["fix"]
    assert result.returncode == 1
    human = run_cli("--root", str(root), "doctor", env=env)
    assert "fail docker" in human.stdout and "fix: start it" in human.stdout
    assert "Traceback" not in human.output


def test_gpu_check_with_fake_nvml():
    ctx = DoctorContext(layout=None, config=Config(), env={}, nvml=FakeNvml([FakeGpu(), FakeGpu(name="RTX 4090")]))
    result = check_gpu(ctx)
    assert result.status == "ok"
    assert result.detail.startswith(
        "driver 550.54.15, 0: NVIDIA H100 80GB HBM3 (80.0 GiB); 1: RTX 4090 (80.0 GiB); suggested profile high ("
    )
    assert "compute capability 9.0" in result.detail and "--all-gpus" in result.detail
    missing = check_gpu(DoctorContext(layout=None, config=Config(), env={}, nvml=FakeNvml(library_missing=True)))
    assert missing.status == "warn" and "no NVIDIA driver" in missing.detail and missing.fix
    none = check_gpu(DoctorContext(layout=None, config=Config(), env={}, nvml=FakeNvml([])))
    assert none.status == "warn" and "sees no GPU" in none.detail


async def test_network_ok_against_a_local_server_and_warn_when_closed():
    async def ok(_request):
        return web.Response(status=200)

    app = web.Application()
    app.router.add_route("HEAD", "/", ok)
    async with serve(app) as url:
        ctx = DoctorContext(layout=None, config=_config(huggingface_url=url, civitai_url=CLOSED_PORT_URL), env={})
        hf, civitai = await check_network(ctx)
    assert hf.status == "ok" and hf.detail == f"{url} answered HTTP 200"
    assert civitai.status == "warn" and "not reachable" in civitai.detail and civitai.fix


async def test_run_checks_never_raises_and_reports_a_broken_root(tmp_path, layout):
    (layout.models_dir / "loras").rmdir()
    (layout.models_dir / "loras").write_text("oops")
    ctx = DoctorContext(
        layout=layout,
        config=_config(),
        env={"DOCKER_HOST": "unix:///nonexistent.sock"},
        nvml=FakeNvml(library_missing=True),
    )
    results = {r.name: r for r in await run_checks(ctx)}
    assert results["data root"].status == "fail" and "is a file" in results["data root"].detail
    assert results["docker"].status == "fail"
    assert check_data_root(ctx)[0].fix.startswith("move the file away")


def test_data_root_check_reports_every_problem_not_just_the_first(layout):
    for folder in (layout.models_dir / "loras", layout.outputs_dir / "comfyui"):
        folder.rmdir()
        folder.write_text("in the way")
    results = check_data_root(DoctorContext(layout=layout, config=Config(), env={}))
    assert [(r.status, r.detail) for r in results] == [
        ("fail", f"{layout.models_dir / 'loras'} is a file, but a folder is expected there."),
        ("fail", f"{layout.outputs_dir / 'comfyui'} is a file, but a folder is expected there."),
    ]


def test_a_missing_root_is_a_warning_naming_the_command_that_creates_it(tmp_path):
    ctx = DoctorContext(layout=Layout(tmp_path / "new"), config=Config(), env={}, init_command="scripts/run init")
    (result,) = check_data_root(ctx)
    assert (result.status, result.fix) == ("warn", "create it: scripts/run init")
    assert result.detail == f"{tmp_path / 'new'} does not exist yet" and not (tmp_path / "new").exists()


@pytest.mark.parametrize(("size", "status"), [("1g", "fail"), ("20g", "warn"), ("60g", "ok")])
def test_disk_check_on_a_filesystem_of_that_size_in_gib(tmp_path, size, status):
    """A real tmpfs of each size holds the models folder (a tmpfs reserves nothing until written)."""
    import subprocess

    from aiui_tui.services.doctor import check_disk

    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)]).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")  # the suite runs as root in CI
    try:
        layout = Layout(mount / "root")
        result = check_disk(DoctorContext(layout=layout, config=Config(), env={}))
    finally:
        subprocess.run(["umount", str(mount)], check=True)
    assert result.status == status
    assert result.detail.startswith(f"{size[:-1]}.0 GiB free in {mount}")
    assert " GB" not in f"{result.detail} {result.fix}"  # one unit system: GiB, as every other figure
    if status == "fail":
        assert "one SDXL checkpoint is 6.5 GiB" in result.detail
    if status == "warn":
        assert result.fix == "keep 50.0 GiB free for a comfortable model library"
