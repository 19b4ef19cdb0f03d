"""`models check-update` says how much it could really check (and fails when it could check nothing);
`models add --json` tells scripts what was queued, saved or already there."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web

from tests.http_server import serve
from tests.library.conftest import LORA_KEYS, SDXL_KEYS, make_model


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    from aiui_tui.cli.main import main

    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def aiui(root, capsys, *args: str) -> tuple[int, str, str]:
    return await asyncio.to_thread(run_main, capsys, "--root", str(root), *args)


async def point(root, capsys, key: str, url: str) -> None:
    code, _out, err = await aiui(root, capsys, "config", "set", f"sources.{key}", url)
    assert code == 0, err


@pytest.fixture
async def failing_site():
    """A model site that answers every request with a server error."""

    async def fail(_request: web.Request) -> web.Response:
        return web.json_response({"error": "Internal Server Error"}, status=500)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fail)
    async with serve(app) as base:
        yield base


async def test_updates_count_checked_failed_and_sourceless_models(sites, failing_site, tmp_path, capsys, clean_env):
    root = tmp_path / "root"
    assert (await aiui(root, capsys, "init", "--yes"))[0] == 0
    for key in ("huggingface_url", "civitai_url"):
        await point(root, capsys, key, sites.base)
    sites.add_hf_file("org/sdxl", "sdxl.safetensors", make_model(tmp_path / "a.safetensors", SDXL_KEYS).read_bytes())
    lora = make_model(tmp_path / "l.safetensors", LORA_KEYS).read_bytes()
    sites.add_civitai_model(9, "Style", "LORA", [(90, "style.safetensors", lora)])

    code, out, err = await aiui(root, capsys, "models", "add", "hf:org/sdxl/sdxl.safetensors", "--now", "--json")
    assert code == 0, err
    added = json.loads(out)
    assert [i["name"] for i in added["queued"]] == ["sdxl.safetensors"] and added["failed"] == []
    assert added["saved"] == [str(root / "models/checkpoints/sdxl.safetensors")]
    code, out, err = await aiui(root, capsys, "models", "add", "civitai:9", "--json")  # queued, not run
    assert code == 0 and json.loads(out)["queued"][0]["state"] == "pending", err
    code, _out, err = await aiui(root, capsys, "downloads", "run")
    assert code == 0, err
    code, out, _err = await aiui(root, capsys, "models", "add", "hf:org/sdxl/sdxl.safetensors", "--json")
    assert code == 0 and json.loads(out) == {"queued": [], "already_installed": ["sdxl.safetensors"]}
    make_model(root / "models/loras/by-hand.safetensors", LORA_KEYS, salt="mine")  # no source to ask

    code, out, err = await aiui(root, capsys, "models", "check-update")
    assert code == 0, err
    assert "Up to date where it could be checked: 2 checked; 1 have no HuggingFace or CivitAI source" in out

    await point(root, capsys, "civitai_url", failing_site)
    code, out, err = await aiui(root, capsys, "models", "check-update")
    assert code == 0, err
    assert "could not check style.safetensors: CivitAI answered 500" in err
    assert "1 checked; 1 could not be checked; 1 have no HuggingFace or CivitAI source" in out
    assert "All" not in out and "Up to date where it could be checked" in out

    await point(root, capsys, "huggingface_url", failing_site)
    code, out, err = await aiui(root, capsys, "models", "check-update")
    assert code == 1
    assert "Error: Nothing could be checked (0 checked; 2 could not be checked; 1 have no" in err
    assert "Fix: check the network" in err and "up to date" not in out + err
    code, out, _err = await aiui(root, capsys, "models", "check-update", "--json")
    assert code == 1
    report = json.loads(out)
    assert (report["checked"], report["failed"], report["no_source"], report["updates"]) == (0, 2, 1, [])


async def test_updates_fail_when_no_model_can_be_checked(tmp_path, capsys, clean_env):
    root = tmp_path / "root"
    assert (await aiui(root, capsys, "init", "--yes"))[0] == 0
    code, out, err = await aiui(root, capsys, "models", "check-update")
    assert code == 1 and "Nothing could be checked (the library is empty)" in err and "Fix: add a model" in err

    make_model(root / "models/checkpoints/local.safetensors", SDXL_KEYS)
    code, out, err = await aiui(root, capsys, "models", "check-update")
    assert code == 1, out
    assert "Nothing could be checked (0 checked; 1 have no HuggingFace or CivitAI source to check)" in err
    assert "up to date" not in out + err
