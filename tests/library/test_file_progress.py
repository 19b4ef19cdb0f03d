"""Progress of long file operations: hashing a big file, verify, import, link, unlink and dedupe publish
`FileOpProgress` in order, ending at the total; the CLI draws bars only on a terminal."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json

import pytest

from aiui_tui.bus import Bus
from aiui_tui.core.events import FileOpProgress
from aiui_tui.services.library import LibraryService
from aiui_tui.services.library.hashing import sha256_file
from aiui_tui.services.library.progress import OpProgress
from tests.conftest import load_services_inputs
from tests.library.conftest import LORA_KEYS, SD15_KEYS, fake_a1111, fake_comfyui, make_model

BIG = {"model.diffusion_model.input_blocks.0.0.weight": ("F16", [4096, 2048])}  # 16 MiB of tensor data


@pytest.fixture
async def library(layout, clean_env):
    config, credentials = load_services_inputs(layout)
    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    service = LibraryService(layout, config, credentials, bus)
    service.progress_rate = float("inf")  # every chunk is an event: the test sees each step
    await service.start(scan=False)
    events: list[FileOpProgress] = []
    bus.subscribe(events.append, FileOpProgress)
    service.events = events  # type: ignore[attr-defined]
    yield service
    await service.close()


async def delivered(library) -> list[FileOpProgress]:
    """The events so far, once the ones handed over from hashing threads have arrived on the loop."""
    for _ in range(5):
        await asyncio.sleep(0)
    return list(library.events)


def by_op(events: list[FileOpProgress], op: str) -> list[FileOpProgress]:
    runs = {e.id for e in events if e.op == op}
    assert len(runs) == 1, f"{op}: {len(runs)} runs in {events}"
    return [e for e in events if e.op == op]


def assert_in_order_to_the_end(events: list[FileOpProgress], files: int, total: int) -> None:
    assert events[0].done == 0 and events[0].files_done == 0 and not events[0].finished
    assert all(e.files_total == files and e.total == total for e in events)
    pairs = list(itertools.pairwise(events))
    assert all(b.done >= a.done and b.files_done >= a.files_done for a, b in pairs), [e.done for e in events]
    last = events[-1]
    assert last.finished and (last.files_done, last.done) == (files, total)
    assert [e for e in events if e.finished] == [last]


async def test_scan_and_verify_of_a_big_file_report_bytes_in_order_to_the_total(library, layout):
    big = make_model(layout.kind_dir("checkpoints") / "big.safetensors", BIG)
    size = big.stat().st_size
    assert size > 16 * 1024**2

    await library.scan()
    scan = by_op(await delivered(library), "scan")
    assert_in_order_to_the_end(scan, 1, size)
    steps = [e.done for e in scan if 0 < e.done < size]
    assert len(steps) >= 4, steps  # 4 MiB chunks: the bar moves while the one file is hashed
    assert scan[-1].title == "Hashing" and scan[-1].current == str(big)

    library.events.clear()
    ((_record, ok, _message),) = await library.verify()
    assert ok
    verify = by_op(await delivered(library), "verify")
    assert_in_order_to_the_end(verify, 1, size)
    assert len([e for e in verify if 0 < e.done < size]) >= 4
    assert verify[-1].title == "Verifying"


async def test_an_unchanged_library_scans_without_progress(library, layout):
    make_model(layout.kind_dir("loras") / "a.safetensors", LORA_KEYS)
    await library.scan()
    library.events.clear()
    await library.scan()  # nothing to hash: no bar flashes up
    assert await delivered(library) == []


async def test_import_link_dedupe_and_unlink_count_files_and_bytes(library, layout, tmp_path):
    webui = fake_a1111(tmp_path / "webui")
    dream = make_model(webui / "models/Stable-diffusion/dream.safetensors", SD15_KEYS)
    detail = make_model(webui / "models/Lora/detail.safetensors", LORA_KEYS)
    sizes = dream.stat().st_size + detail.stat().st_size

    await library.apply(await library.plan_import(await library.install_at(webui)))
    events = await delivered(library)
    assert_in_order_to_the_end(by_op(events, "import"), 2, sizes)
    assert_in_order_to_the_end(by_op(events, "scan"), 2, sizes)  # the imported files are hashed after

    comfy = fake_comfyui(tmp_path / "ComfyUI")
    library.events.clear()
    await library.apply(await library.plan_link(await library.install_at(comfy), "symlink"))
    assert_in_order_to_the_end(by_op(await delivered(library), "link"), 2, sizes)

    copy = comfy / "models/checkpoints/copy.safetensors"
    copy.write_bytes(dream.read_bytes())
    groups = await library.duplicates([await library.install_at(comfy)])
    library.events.clear()
    result = await library.dedupe(groups)
    assert result.replaced == [str(copy)]
    assert_in_order_to_the_end(by_op(await delivered(library), "dedupe"), 1, dream.stat().st_size)

    library.events.clear()
    await library.apply_unlink(await library.plan_unlink(await library.install_at(comfy)))
    assert_in_order_to_the_end(by_op(await delivered(library), "unlink"), 2, 0)  # links removed: files only


def test_events_are_throttled_at_the_source_but_the_first_and_last_always_come(tmp_path):
    """A 16 MiB file hashed in 1 MiB chunks: 16 reads, and a clock that does not move lets only
    the first event (the work is known) and the last two (file done, finished) through."""
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(256)) * (16 * 4096))
    now = [100.0]
    events: list[FileOpProgress] = []
    op = OpProgress(events.append, "verify", per_second=10, clock=lambda: now[0])
    op.begin(1, path.stat().st_size)
    digest = sha256_file(path, op.reader(str(path)), chunk=1024 * 1024)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    op.file_done(str(path), path.stat().st_size)
    op.finish()
    assert [(e.files_done, e.done, e.finished) for e in events] == [
        (0, 0, False),
        (1, 16 * 1024**2, False),
        (1, 16 * 1024**2, True),
    ]

    events.clear()
    op = OpProgress(events.append, "verify", per_second=8, clock=lambda: now[0])
    op.begin(1, path.stat().st_size)
    for _ in range(16):  # a chunk every 1/16 s: every other one passes at 8 per second
        now[0] += 0.0625
        op.read(str(path), 1024 * 1024)
    assert [e.done // 1024**2 for e in events] == [0, 2, 4, 6, 8, 10, 12, 14, 16]


def test_no_work_publishes_nothing():
    events: list[FileOpProgress] = []
    op = OpProgress(events.append, "scan")
    op.begin(0, 0)
    op.finish()
    assert events == []


def run_models(root, capsys, *args: str) -> tuple[int, str, str]:
    from aiui_tui.cli.main import main

    code = main(["--root", str(root), "models", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_the_cli_draws_bars_on_a_terminal_only(tmp_path, capsys, monkeypatch, clean_env):
    root = tmp_path / "root"
    from aiui_tui.cli.main import main

    assert await asyncio.to_thread(main, ["--root", str(root), "init", "--yes"]) == 0
    make_model(root / "models/checkpoints/big.safetensors", BIG)

    monkeypatch.setenv("FORCE_COLOR", "1")  # rich takes stderr for a terminal
    monkeypatch.setenv("COLUMNS", "120")
    code, out, err = await asyncio.to_thread(run_models, root, capsys, "scan")
    assert code == 0, err
    assert "Scanned the library: 1 files, 1 new" in out
    assert "Hashing" in err and "1/1 files" in err and "16.0 MiB/16.0 MiB" in err

    code, out, err = await asyncio.to_thread(run_models, root, capsys, "verify")
    assert code == 0 and "1 ok, 0 bad" in out
    assert "Verifying" in err and "1/1 files" in err

    monkeypatch.delenv("FORCE_COLOR")
    code, out, err = await asyncio.to_thread(run_models, root, capsys, "verify")  # piped: no bar
    assert code == 0 and "1 ok, 0 bad" in out and err == ""

    monkeypatch.setenv("FORCE_COLOR", "1")
    make_model(root / "models/checkpoints/big2.safetensors", BIG, salt="2")  # `list` hashes it first
    code, out, err = await asyncio.to_thread(run_models, root, capsys, "list", "--json")  # JSON: no bar
    assert code == 0 and len(json.loads(out)["models"]) == 2 and err == ""
