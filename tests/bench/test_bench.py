"""`aiui-tui bench` against stand-in servers for each API: the table, the JSON, the saved file, and
the errors people meet (API switched off, no checkpoint, Fooocus without an API, a bad size)."""

from __future__ import annotations

import asyncio
import json

import pytest

from aiui_tui.paths import Layout, ensure_layout
from tests.bench.stand_ins import a1111_app, comfy_app, fooocus_api_app
from tests.conftest import run_cli
from tests.http_server import serve


@pytest.fixture
def root(tmp_path):
    layout = Layout(tmp_path / "root")
    ensure_layout(layout)
    return layout.root


def saved(root) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((root / "outputs" / "bench").glob("*.json"))]


async def bench(root, *args):
    return await asyncio.to_thread(run_cli, "--root", str(root), "bench", *args, timeout=120)


async def test_a1111_table_and_saved_json(root):
    requests: list = []
    async with serve(a1111_app(requests)) as base:
        result = await bench(
            root, "automatic1111", "--url", base + "/", "--steps", "25", "--runs", "2", "--size", "768x512"
        )
    assert result.returncode == 0, result.output
    assert "seconds per image (median)" in result.stdout and "iterations per second" in result.stdout
    assert "sd_xl_base_1.0.safetensors" in result.stdout
    assert "image 1/2" in result.stderr and "image 2/2" in result.stderr and "Saved" in result.stderr
    assert len(requests) == 3  # one warm-up, two timed
    assert {(r["steps"], r["width"], r["height"], r["seed"]) for r in requests} == {(25, 768, 512, 1234567)}
    [data] = saved(root)
    assert data["app"] == "automatic1111" and data["api"] == "a1111" and len(data["run_s"]) == 2
    assert data["seconds_per_image"] >= 25 * 0.004
    assert data["iterations_per_second"] == pytest.approx(25 / data["seconds_per_image"], rel=0.01)
    assert data["peak_ram_bytes"] > 10 * 1024**2  # the listening process (this test's own) was found and sampled
    assert data["peak_vram_bytes"] is None and any("peak VRAM not measured" in n for n in data["notes"])


async def test_comfyui_workflow_and_json_output(root):
    requests: list = []
    async with serve(comfy_app(requests)) as base:
        result = await bench(root, "comfyui", "--url", base, "--steps", "10", "--runs", "1", "--no-warmup", "--json")
    assert result.returncode == 0, result.output
    data = json.loads(result.stdout)
    assert data["model"] == "sdxl.safetensors" and data["warmup_s"] is None and len(data["run_s"]) == 1
    [request] = requests
    graph = request["prompt"]
    assert graph["3"]["inputs"]["steps"] == 10 and graph["4"]["inputs"]["ckpt_name"] == "sdxl.safetensors"
    assert saved(root)[0]["run_s"] == data["run_s"]


async def test_fooocus_api(root, tmp_path):
    (root / "config" / "apps" / "fooocus-api.toml").write_text(
        'name = "fooocus-api"\nimage = "konieshadow/fooocus-api:latest"\nport = 8888\napi = "fooocus-api"\n'
    )
    requests: list = []
    async with serve(fooocus_api_app(requests)) as base:
        result = await bench(root, "fooocus-api", "--url", base, "--steps", "8", "--runs", "1", "--json")
    assert result.returncode == 0, result.output
    assert requests[0]["advanced_params"] == {"overwrite_step": 8, "overwrite_width": 512, "overwrite_height": 512}
    assert json.loads(result.stdout)["api"] == "fooocus-api"


async def test_errors_are_one_line_with_the_fix(root):
    requests: list = []
    async with serve(comfy_app(requests)) as base:  # an A1111 request to a server without /sdapi: --api is off
        off = await bench(root, "automatic1111", "--url", base, "--runs", "1")
    assert off.returncode == 1 and "does not expose this API" in off.stderr and "--api" in off.stderr
    async with serve(comfy_app(requests, checkpoints=[])) as base:
        empty = await bench(root, "comfyui", "--url", base, "--runs", "1")
    assert empty.returncode == 1 and "lists no checkpoint" in empty.stderr and "models add" in empty.stderr
    async with serve(comfy_app(requests, fail=True)) as base:
        failed = await bench(root, "comfyui", "--url", base, "--runs", "1")
    assert failed.returncode == 1 and "ComfyUI failed the prompt" in failed.stderr
    fooocus = await bench(root, "fooocus")
    assert fooocus.returncode == 1 and "Fooocus has no HTTP API for generating images" in fooocus.stderr
    size = await bench(root, "comfyui", "--size", "1000x1001")
    assert size.returncode == 2 and "multiples of 8" in size.stderr
    gone = await bench(root, "comfyui", "--url", "http://127.0.0.1:9/", "--runs", "1")
    assert gone.returncode == 1 and "Cannot reach http://127.0.0.1:9/object_info" in gone.stderr
    for r in (off, empty, failed, fooocus, size, gone):
        assert "Traceback" not in r.output
        assert len([line for line in r.stderr.splitlines() if line.startswith("Error")]) == 1
    assert saved(root) == []  # failures save nothing


@pytest.mark.docker
async def test_an_app_that_is_not_running_says_start_it(root):
    result = await bench(root, "comfyui")
    assert result.returncode == 1 and "ComfyUI is not running (not created)" in result.stderr
    assert "aiui-tui app start comfyui" in result.stderr
