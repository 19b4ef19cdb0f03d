"""`aiui-tui models ...` as a user runs it, in a subprocess, against local stand-ins for the model sites."""

from __future__ import annotations

import asyncio
import json
import os

from tests.cli_inprocess import main_cli
from tests.conftest import init_root
from tests.library.conftest import LORA_KEYS, SD15_KEYS, SDXL_KEYS, fake_a1111, fake_comfyui, make_model, tree_bytes


async def cli(root, *args):
    """`aiui-tui --root ROOT ARGS` in this process, in a thread: the test's servers run on this loop."""
    return await asyncio.to_thread(main_cli, "--root", str(root), *args)


async def point_at(root, base: str) -> None:
    for key in ("sources.huggingface_url", "sources.civitai_url"):
        result = await cli(root, "config", "set", key, base)
        assert result.returncode == 0, result.output


async def test_add_now_list_verify_and_corruption(sites, tmp_path, clean_env):
    root = init_root(tmp_path / "root").root
    await point_at(root, sites.base)
    content = make_model(tmp_path / "m.safetensors", SDXL_KEYS).read_bytes()
    sites.add_hf_file("org/sdxl", "sdxl_base.safetensors", content)

    empty = await cli(root, "models", "list", "--json")
    assert json.loads(empty.stdout) == {"models": []}
    added = await cli(root, "models", "add", "hf:org/sdxl/sdxl_base.safetensors", "--now")
    assert added.returncode == 0, added.output
    assert "Queued sdxl_base.safetensors" in added.stdout and "Saved" in added.stderr

    listed = json.loads((await cli(root, "models", "list", "--json")).stdout)["models"]
    (model,) = listed
    assert model["kind"] == "checkpoints" and model["architecture"] == "sdxl" and model["source"]["repo"] == "org/sdxl"
    table = await cli(root, "models", "list")
    assert "sdxl_base.safetensors" in table.stdout and "hf:org/sdxl" in table.stdout and "verified" in table.stdout

    ok = await cli(root, "models", "verify")
    assert ok.returncode == 0 and "1 ok, 0 bad" in ok.stdout
    path = model["path"]
    with open(path, "r+b") as fh:
        fh.seek(-2, os.SEEK_END)
        fh.write(b"\x01\x02")
    # Changed later than a second after the download: a rescan trusts a download's hash until then
    # (LibraryService._hasher_reusing), and in-process runs get here within that second.
    changed = os.stat(path)
    os.utime(path, ns=(changed.st_atime_ns, changed.st_mtime_ns + 2_000_000_000))
    bad = await cli(root, "models", "verify", path)
    assert bad.returncode == 1 and "BAD" in bad.stdout and "corrupted" in bad.stdout
    listed = await cli(root, "models", "list", "--json")  # a rescan keeps the evidence
    (model,) = json.loads(listed.stdout)["models"]
    assert not model["ok"] and "changed on disk since it was downloaded" in model["warning"]


async def test_search_each_source_and_offline(sites, tmp_path, clean_env):
    root = init_root(tmp_path / "root").root
    catalog = await cli(root, "models", "search", "juggernaut")
    assert catalog.returncode == 0 and "juggernaut-xl-v8" in catalog.stdout
    await point_at(root, sites.base)
    sites.add_hf_file("someone/great-sdxl", "m.safetensors", b"x")
    sites.add_civitai_model(5, "Great LoRA", "LORA", [(50, "great.safetensors", b"y")])
    hf = await cli(root, "models", "search", "great", "--source", "hf", "--json")
    assert [r["id"] for r in json.loads(hf.stdout)["results"]] == ["someone/great-sdxl"]
    civitai = await cli(root, "models", "search", "great", "--source", "civitai")
    assert "civitai:5" in civitai.stdout and "loras" in civitai.stdout

    await point_at(root, "http://127.0.0.1:9")  # the discard port: nothing listens
    offline = await cli(root, "models", "search", "great", "--source", "civitai")
    assert offline.returncode == 1
    assert "CivitAI is not reachable" in offline.stderr and "catalog works offline" in offline.stderr
    assert "Traceback" not in offline.output


async def test_import_link_unlink_and_dedupe_from_the_command_line(tmp_path, clean_env):
    root = init_root(tmp_path / "root").root
    webui = fake_a1111(tmp_path / "webui")
    make_model(webui / "models/Stable-diffusion/dream.safetensors", SD15_KEYS)
    make_model(webui / "models/Lora/detail.safetensors", LORA_KEYS)
    before = tree_bytes(webui)

    dry = await cli(root, "models", "import", str(webui), "--dry-run")
    assert dry.returncode == 0 and "hardlink-in" in dry.stdout and "Dry run: nothing changed" in dry.stdout
    assert tree_bytes(webui) == before
    assert json.loads((await cli(root, "models", "list", "--json")).stdout)["models"] == []
    done = await cli(root, "models", "import", str(webui))
    assert done.returncode == 0 and "Done: 2 of 2 actions" in done.stdout
    again = await cli(root, "models", "import", str(webui))
    assert "Nothing to import" in again.stdout

    comfy = fake_comfyui(tmp_path / "ComfyUI")
    linked = await cli(root, "models", "link", str(comfy), "--mode", "symlink")
    assert linked.returncode == 0, linked.output
    assert (comfy / "models/checkpoints/dream.safetensors").is_symlink()
    assert (comfy / "models/loras/detail.safetensors").is_symlink()

    copy = comfy / "models/checkpoints/dream-copy.safetensors"
    copy.write_bytes((webui / "models/Stable-diffusion/dream.safetensors").read_bytes())
    report = await cli(root, "models", "dedupe", str(comfy), "--dry-run")
    assert "1 duplicated models" in report.stdout and "reclaimable" in report.stdout
    assert not copy.is_symlink() and copy.stat().st_nlink == 1
    deduped = await cli(root, "models", "dedupe", str(comfy))
    assert deduped.returncode == 0 and "Replaced 1 copies" in deduped.stdout
    assert copy.stat().st_nlink == 3  # webui, library and this name: one copy of the bytes

    for ui in (comfy, webui):
        undone = await cli(root, "models", "unlink", str(ui))
        assert undone.returncode == 0, undone.output
    assert tree_bytes(webui) == before
    assert not (comfy / "models/checkpoints/dream.safetensors").exists()
    assert copy.exists()  # deduped copies stay (as links to the same bytes); nothing is deleted


async def test_bad_input_is_one_line_with_a_fix(tmp_path, clean_env):
    root = init_root(tmp_path / "root").root
    for args, needle in (
        (("models", "add", "what-is-this"), "Not a catalog id"),
        (("models", "import", str(tmp_path / "nowhere")), "does not look like a UI install"),
        (("models", "link", str(tmp_path), "--mode", "config"), "does not look like a UI install"),
        (("models", "verify", str(tmp_path / "x.safetensors")), "Not in the library index"),
        (("models", "scan", str(tmp_path / "nowhere")), "No such folder"),
    ):
        result = await cli(root, *args)
        assert result.returncode == 2, (args, result.output)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and needle in lines[0] and "Fix:" in lines[0], result.stderr
