"""One malformed file is that file's problem: the scan, `models scan`, `models list` and `models verify`
go on for every other file. FIFOs and links to devices under a model's name are never read."""

from __future__ import annotations

import asyncio
import json
import os
import struct

import pytest

from aiui_tui.core.library import LIBRARY
from aiui_tui.services.library.index import LibraryIndex
from aiui_tui.services.library.validate import check_file
from tests.conftest import run_cli
from tests.library.conftest import LORA_KEYS, SD15_KEYS, SDXL_KEYS, VAE_KEYS, make_model

NULL_SHAPE = b'{"w":{"dtype":"F16","shape":null,"data_offsets":[0,8]}}'
MALFORMED = {
    "null_shape.safetensors": struct.pack("<Q", len(NULL_SHAPE)) + NULL_SHAPE + bytes(8),
    "deep.safetensors": struct.pack("<Q", 20_000) + b"[" * 10_000 + b"]" * 10_000,
    "huge_offset.safetensors": struct.pack("<Q", 56) + b'{"w":{"dtype":"F16","shape":[4],"data_offsets":[0,1e400]}}',
}


def good_library(models) -> list[str]:
    names = []
    for i in range(12):
        keys = (SD15_KEYS, SDXL_KEYS, VAE_KEYS)[i % 3]
        names.append(make_model(models / "checkpoints" / f"good{i:02}.safetensors", keys, salt=str(i)).name)
    names.append(make_model(models / "loras" / "style.safetensors", LORA_KEYS).name)
    return names


def special_files(folder) -> dict[str, str]:
    """A FIFO and links to /dev/zero under model names: each would hang or never end if read."""
    folder.mkdir(parents=True, exist_ok=True)
    os.mkfifo(folder / "x.safetensors")
    os.mkfifo(folder / "fifo.ckpt")
    os.symlink("/dev/zero", folder / "y.ckpt")
    os.symlink("/dev/zero", folder / "zero.safetensors")
    return {
        "x.safetensors": "named pipe",
        "fifo.ckpt": "named pipe",
        "y.ckpt": "character device",
        "zero.safetensors": "character device",
    }


@pytest.mark.timeout(60)
def test_scan_indexes_every_file_and_reports_the_bad_ones(tmp_path):
    models = tmp_path / "models"
    good = good_library(models)
    for name, content in MALFORMED.items():
        (models / "checkpoints" / name).write_bytes(content)
    special = special_files(models / "checkpoints")
    index = LibraryIndex(tmp_path / "lib.sqlite")
    result = index.scan({models / "checkpoints": "checkpoints", models / "loras": "loras"}, LIBRARY)

    records = {r.name: r for r in index.records()}
    assert result.files == len(good) + len(MALFORMED) + len(special) == len(records)
    assert all(records[n].ok and records[n].sha256 and records[n].architecture != "unknown" for n in good)
    assert records["null_shape.safetensors"].problem == "tensor 'w': shape is null, not an array"
    assert records["deep.safetensors"].problem == "header JSON is nested deeper than 127 levels"
    assert "number out of range (1e400)" in records["huge_offset.safetensors"].problem
    for name in MALFORMED:
        assert not records[name].ok and records[name].sha256  # hashed like any file: it is a file
    for name, what in special.items():
        record = records[name]
        assert (record.ok, record.format, record.sha256) == (False, "special", None)
        assert record.problem == f"not a model file: a {what}" + (" (FIFO)" if what == "named pipe" else "")
    again = index.scan({models / "checkpoints": "checkpoints", models / "loras": "loras"}, LIBRARY)
    assert again.files == result.files and again.removed == 0


@pytest.mark.timeout(10)
def test_check_file_of_special_files_returns_at_once(tmp_path):
    special = special_files(tmp_path)
    (tmp_path / "folder.safetensors").mkdir()
    os.symlink(tmp_path / "folder.safetensors", tmp_path / "dir_link.pt")
    special.update({"folder.safetensors": "folder", "dir_link.pt": "folder"})
    for name, what in special.items():
        check = check_file(tmp_path / name)
        assert (check.ok, check.format, check.executable) == (False, "special", False)
        assert what in check.problem
    os.mkfifo(tmp_path / "model.gguf")
    assert check_file(tmp_path / "model.gguf").format == "special"


async def cli(root, *args):
    # A wide terminal, so a table row's note stays on one line.
    return await asyncio.to_thread(run_cli, "--root", str(root), *args, env={"COLUMNS": "200"}, timeout=60)


@pytest.mark.timeout(240)
async def test_models_scan_list_and_verify_go_on_past_a_bad_file(tmp_path, clean_env):
    root = tmp_path / "root"
    good = good_library(root / "models")
    (root / "models" / "checkpoints" / "null_shape.safetensors").write_bytes(MALFORMED["null_shape.safetensors"])
    special_files(root / "models" / "controlnet")

    scan = await cli(root, "models", "scan")
    assert scan.returncode == 0, scan.output
    assert f"{len(good) + 1 + 4} files" in scan.output
    assert "null_shape.safetensors: tensor 'w': shape is null, not an array" in scan.stderr  # listed as a problem
    assert f"5 of {len(good) + 1 + 4} files have a problem" in scan.stdout
    listed = await cli(root, "models", "list", "--json")
    assert listed.returncode == 0, listed.output
    models = {m["name"]: m for m in json.loads(listed.stdout)["models"]}
    assert all(models[n]["ok"] for n in good)
    assert models["null_shape.safetensors"]["warning"] == "tensor 'w': shape is null, not an array"
    assert not models["x.safetensors"]["ok"] and "named pipe" in models["x.safetensors"]["warning"]
    assert not models["y.ckpt"]["ok"] and "character device" in models["y.ckpt"]["warning"]

    table = await cli(root, "models", "list")
    assert table.returncode == 0, table.output
    assert all(name in table.stdout for name in good)
    row = next(line for line in table.stdout.splitlines() if "null_shape.safetensors" in line)
    assert row.rstrip().endswith("tensor 'w': shape is null, not an array")

    verify = await cli(root, "models", "verify")
    assert verify.returncode == 1  # some files are bad: said per file, every file checked
    assert f"{len(good)} ok, 5 bad" in verify.stdout
    assert "shape is null" in verify.stdout
    for result in (scan, listed, table, verify):
        assert "Unexpected error" not in result.output and "Traceback" not in result.output
