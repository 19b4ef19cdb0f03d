"""The SQLite index: scans reuse hashes of unchanged files, survive kill -9, and track moves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from aiui_tui.core.library import LIBRARY
from aiui_tui.services.library.hashing import sha256_file
from aiui_tui.services.library.index import LibraryIndex
from tests.library.conftest import LORA_KEYS, SD15_KEYS, SDXL_KEYS, make_model, sha256


class CountingHasher:
    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, path):
        self.paths.append(str(path))
        return sha256_file(path)


def folders(models):
    return {models / "checkpoints": "checkpoints", models / "loras": "loras"}


def test_scan_indexes_new_files_and_reuses_hashes_of_unchanged_ones(tmp_path):
    models = tmp_path / "models"
    a = make_model(models / "checkpoints" / "a.safetensors", SDXL_KEYS)
    b = make_model(models / "loras" / "b.safetensors", LORA_KEYS)
    (models / "checkpoints" / "notes.txt").write_text("not a model")
    (models / "checkpoints" / "c.safetensors.part").write_bytes(b"partial")
    index = LibraryIndex(tmp_path / "lib.sqlite")
    hasher = CountingHasher()
    first = index.scan(folders(models), hasher=hasher)
    assert (first.files, first.added, first.changed, first.removed) == (2, 2, 0, 0)
    assert sorted(hasher.paths) == sorted([str(a), str(b)])
    records = {r.name: r for r in index.records()}
    assert records["a.safetensors"].sha256 == sha256(a)
    assert records["a.safetensors"].architecture == "sdxl"
    assert records["a.safetensors"].kind == "checkpoints"
    assert records["b.safetensors"].kind == "loras"
    assert records["a.safetensors"].autov2 == sha256(a)[:10].upper()

    hasher.paths.clear()
    second = index.scan(folders(models), hasher=hasher)
    assert hasher.paths == []  # nothing changed: nothing read
    assert (second.added, second.changed, second.removed, second.hashed_bytes) == (0, 0, 0, 0)

    make_model(a, SD15_KEYS)  # rewritten in place: new content, new mtime
    os.utime(a, ns=(time.time_ns(), time.time_ns() + 5_000_000))
    b.unlink()
    third = index.scan(folders(models), hasher=hasher)
    assert hasher.paths == [str(a)]
    assert (third.changed, third.removed) == (1, 1)
    assert [r.architecture for r in index.records()] == ["sd15"]


def test_a_moved_file_keeps_its_hash_and_its_source(tmp_path):
    models = tmp_path / "models"
    a = make_model(models / "checkpoints" / "a.safetensors", SDXL_KEYS)
    index = LibraryIndex(tmp_path / "lib.sqlite")
    index.scan(folders(models))
    index.set_source(sha256(a), {"type": "huggingface", "repo": "o/r"})
    (models / "loras").mkdir()
    moved = models / "loras" / "renamed.safetensors"
    a.rename(moved)
    hasher = CountingHasher()
    result = index.scan(folders(models), hasher=hasher)
    assert hasher.paths == []
    assert (result.added, result.removed, result.hashed_bytes) == (1, 1, 0)
    (record,) = index.records()
    assert record.name == "renamed.safetensors" and record.kind == "loras"
    assert record.source == {"type": "huggingface", "repo": "o/r"}


def test_links_in_the_library_are_indexed_with_their_target(tmp_path):
    models = tmp_path / "models"
    outside = make_model(tmp_path / "elsewhere" / "big.safetensors", SDXL_KEYS)
    (models / "checkpoints").mkdir(parents=True)
    (models / "checkpoints" / "big.safetensors").symlink_to(outside)
    (models / "checkpoints" / "gone.safetensors").symlink_to(tmp_path / "missing.safetensors")
    index = LibraryIndex(tmp_path / "lib.sqlite")
    index.scan(folders(models))
    (record,) = index.records()
    assert record.link_target == str(outside)
    assert record.sha256 == sha256(outside)


def test_kill_9_during_a_scan_leaves_a_loadable_index_that_the_next_scan_completes(tmp_path):
    models = tmp_path / "models"
    for i in range(300):
        make_model(models / "checkpoints" / f"m{i:03}.safetensors", {"w": ("F32", [64 * 1024])}, salt=str(i))
    db = tmp_path / "lib.sqlite"
    script = (
        "import sys, time; from pathlib import Path; "
        "from aiui_tui.services.library.index import LibraryIndex; "
        "from aiui_tui.services.library.hashing import sha256_file\n"
        "def slow(p):\n    time.sleep(0.01); return sha256_file(p)\n"
        f"folders = {{Path({str(models / 'checkpoints')!r}): 'checkpoints'}}\n"
        f"LibraryIndex(Path({str(db)!r})).scan(folders, workers=1, hasher=slow)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if db.exists():
            probe = LibraryIndex(db)
            partial = len(probe.records(LIBRARY))
            probe.close()
            if partial >= 20:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    index = LibraryIndex(db)
    partial = index.records()
    assert 20 <= len(partial) < 300
    assert all(r.sha256 == sha256(r.path) for r in partial)  # every committed row is whole
    hasher = CountingHasher()
    result = index.scan({models / "checkpoints": "checkpoints"}, hasher=hasher)
    assert result.files == 300
    assert len(hasher.paths) == 300 - len(partial)  # only the files the killed scan had not finished
    assert len(index.records()) == 300
