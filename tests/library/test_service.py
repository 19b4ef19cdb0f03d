"""The library service end to end: `add` from the catalog, HuggingFace, CivitAI and URLs through the real
download queue, indexing without a second hash, verification, duplicates, update checks, offline search."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket

import pytest

from aiui_tui.bus import Bus
from aiui_tui.core.errors import UsageError
from aiui_tui.core.events import LibraryChanged
from aiui_tui.core.library import CatalogEntry
from aiui_tui.services.downloads import DownloadService
from aiui_tui.services.library import LibraryService
from aiui_tui.services.library.sources.api import SourceOffline
from tests.conftest import load_services_inputs
from tests.library.conftest import LORA_KEYS, SD15_KEYS, SDXL_KEYS, fake_comfyui, make_model


def model_bytes(tmp_path, keys, salt="") -> bytes:
    return make_model(tmp_path / f"src-{salt}.safetensors", keys, salt=salt).read_bytes()


@pytest.fixture
async def stack(layout, sites, clean_env):
    config, credentials = load_services_inputs(layout)
    config.sources.huggingface_url = sites.base
    config.sources.civitai_url = sites.base
    config.downloads.retry_backoff_s = 0.01
    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    downloads = DownloadService(layout, config, credentials, bus)
    await downloads.start(run_queue=True)
    library = LibraryService(layout, config, credentials, bus, downloads)
    await library.start(scan=False)
    changes: list[LibraryChanged] = []
    bus.subscribe(changes.append, LibraryChanged)
    library.changes = changes  # type: ignore[attr-defined]
    yield library
    await library.close()
    await downloads.close()


async def until_indexed(library, count: int, timeout: float = 20) -> list:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        await library.settle()
        records = await library.records()
        if len(records) >= count:
            return records
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {len(await library.records())} of {count} indexed")


async def test_add_from_huggingface_downloads_verifies_and_indexes_without_rehashing(
    stack, sites, tmp_path, monkeypatch
):
    content = model_bytes(tmp_path, SDXL_KEYS)
    sha = sites.add_hf_file("org/sdxl", "sdxl_base.safetensors", content)
    read_by_library = []
    import aiui_tui.services.library.service as service_module

    monkeypatch.setattr(service_module, "sha256_file", lambda p: read_by_library.append(p) or "x")
    (item,) = await stack.add("hf:org/sdxl/sdxl_base.safetensors")
    assert item.kind == "checkpoints" and item.sha256 == sha
    (record,) = await until_indexed(stack, 1)
    assert record.sha256 == sha and record.architecture == "sdxl" and record.verified_at
    assert record.source["repo"] == "org/sdxl" and record.source["path"] == "sdxl_base.safetensors"
    assert read_by_library == []  # the hash came from the transfer
    assert any(c.reason == "download" for c in stack.changes)
    assert await stack.add("hf:org/sdxl/sdxl_base.safetensors") == []  # already installed: nothing queued


async def test_add_from_civitai_a_url_and_the_catalog(stack, sites, tmp_path):
    lora = model_bytes(tmp_path, LORA_KEYS, "lora")
    sites.add_civitai_model(7, "Detail Tweaker", "LORA", [(70, "detail.safetensors", lora)])
    (item,) = await stack.add("civitai:7")
    assert item.kind == "loras" and item.sha256 == hashlib.sha256(lora).hexdigest()

    ckpt = model_bytes(tmp_path, SD15_KEYS, "ckpt")
    sites.add_hf_file("org/sd15", "v1-5.safetensors", ckpt)
    (by_url,) = await stack.resolve(f"{sites.base}/org/sd15/resolve/main/v1-5.safetensors")
    assert by_url.sha256 == hashlib.sha256(ckpt).hexdigest() and by_url.kind == "checkpoints"

    stack.extra_catalog = [
        CatalogEntry(
            "test-vae",
            "Test VAE",
            "vae",
            f"{sites.base}/org/sd15/resolve/main/v1-5.safetensors",
            "test-vae.safetensors",
            len(ckpt),
            hashlib.sha256(ckpt).hexdigest(),
        )
    ]
    (from_catalog,) = await stack.add("test-vae")
    assert from_catalog.kind == "vae" and from_catalog.name == "test-vae.safetensors"
    records = await until_indexed(stack, 2)
    kinds = sorted((r.kind, r.name, r.architecture) for r in records)
    assert kinds == [("loras", "detail.safetensors", "lora"), ("vae", "test-vae.safetensors", "sd15")]
    civitai_record = next(r for r in records if r.kind == "loras")
    assert civitai_record.source["model_id"] == 7 and civitai_record.source["version_id"] == 70


async def test_bad_ids_are_one_line_errors_that_say_what_to_do(stack, sites):
    with pytest.raises(UsageError, match="Not a catalog id"):
        await stack.resolve("no-such-thing")
    with pytest.raises(UsageError, match="needs a kind"):
        await stack.resolve("https://example.invalid/file.safetensors")
    sites.add_hf_file("org/two", "a.safetensors", b"a")
    sites.add_hf_file("org/two", "b.safetensors", b"b")
    with pytest.raises(UsageError, match="has 2 model files") as info:
        await stack.resolve("hf:org/two")
    assert "models add hf:org/two/FILE" in info.value.fix
    with pytest.raises(UsageError, match="Unknown kind"):
        await stack.resolve("hf:org/two/a.safetensors", kind="nonsense")


async def test_verify_finds_a_corrupted_file(stack, layout):
    good = make_model(layout.kind_dir("checkpoints") / "good.safetensors", SDXL_KEYS)
    bad = make_model(layout.kind_dir("checkpoints") / "bad.safetensors", SD15_KEYS)
    await stack.scan()
    with open(bad, "r+b") as fh:  # flip bytes inside the tensor data: the header still parses
        fh.seek(-4, os.SEEK_END)
        fh.write(b"\xff\xff\xff\xff")
    results = {r.name: (ok, msg) for r, ok, msg in await stack.verify()}
    assert results["good.safetensors"] == (True, "ok")
    assert results["bad.safetensors"][0] is False and "differs from the index" in results["bad.safetensors"][1]
    verified = {r.name: r.verified_at for r in await stack.records()}
    assert verified["good.safetensors"] and verified["bad.safetensors"] is None
    ((record, ok, _),) = await stack.verify([good])
    assert ok and record.name == "good.safetensors"
    with pytest.raises(UsageError, match="Not in the library index"):
        await stack.verify([layout.root / "nope.safetensors"])


async def test_duplicates_across_the_library_and_a_ui_then_dedupe(stack, layout, tmp_path):
    ui = fake_comfyui(tmp_path / "ComfyUI")
    original = make_model(layout.kind_dir("checkpoints") / "sdxl.safetensors", SDXL_KEYS)
    copy = ui / "models/checkpoints/sdxl-copy.safetensors"
    copy.write_bytes(original.read_bytes())
    second = ui / "models/loras/also-sdxl.safetensors"
    second.write_bytes(original.read_bytes())
    make_model(ui / "models/loras/unique.safetensors", LORA_KEYS)
    install = await stack.install_at(ui)
    (group,) = await stack.duplicates([install])
    assert group.keep.path == str(original)
    assert sorted(c.path for c in group.copies) == sorted([str(copy), str(second)])
    assert group.reclaimable == 2 * original.stat().st_size
    result = await stack.dedupe([group])
    assert sorted(result.replaced) == sorted([str(copy), str(second)])
    assert result.reclaimed == 2 * original.stat().st_size
    assert os.path.samefile(copy, original) and os.path.samefile(second, original)
    assert copy.read_bytes() == original.read_bytes()
    (again,) = await stack.duplicates([install])
    assert again.reclaimable == 0 and again.redundant == ()


async def test_update_checks_for_huggingface_and_civitai(stack, sites, tmp_path):
    v1 = model_bytes(tmp_path, SDXL_KEYS, "v1")
    sites.add_hf_file("org/sdxl", "sdxl.safetensors", v1)
    lora = model_bytes(tmp_path, LORA_KEYS, "l1")
    sites.add_civitai_model(9, "Style", "LORA", [(90, "style.safetensors", lora)])
    await stack.add("hf:org/sdxl/sdxl.safetensors")
    await stack.add("civitai:9")
    await until_indexed(stack, 2)
    report = await stack.updates()
    assert (report.updates, report.problems, report.checked, report.no_source) == ([], [], 2, 0)

    sites.add_hf_file("org/sdxl", "sdxl.safetensors", model_bytes(tmp_path, SDXL_KEYS, "v2"))
    sites.add_civitai_model(9, "Style", "LORA", [(91, "style_v2.safetensors", b"new"), (90, "style.safetensors", lora)])
    report = await stack.updates()
    updates = report.updates
    assert report.problems == [] and report.checked == 2
    assert sorted((u.name, u.source) for u in updates) == [
        ("sdxl.safetensors", "huggingface"),
        ("style.safetensors", "civitai"),
    ]
    civitai_update = next(u for u in updates if u.source == "civitai")
    assert (civitai_update.current, civitai_update.latest) == ("90", "91")


async def test_offline_search_sets_a_state_and_the_catalog_still_works(stack):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    stack.config.sources.civitai_url = f"http://127.0.0.1:{port}"
    with pytest.raises(SourceOffline):
        await stack.search("sdxl", source="civitai")
    assert "not reachable" in stack.offline_reason
    hits = await stack.search("sdxl", source="catalog")
    assert {"sdxl-base-1.0", "juggernaut-xl-v8"} <= {h.id for h in hits}


async def test_closing_the_service_stops_a_scan_hashing_a_huge_file_at_once(layout, clean_env):
    """Quitting never waits on a scan: the hashing thread gives up at its next 4 MiB chunk, where
    hashing all of this 64 GiB (sparse) file would take about a minute here."""
    import threading
    import time

    huge = layout.kind_dir("checkpoints") / "huge.ckpt"
    with open(huge, "wb") as fh:
        fh.truncate(64 * 1024**3)
    config, credentials = load_services_inputs(layout)
    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    library = LibraryService(layout, config, credentials, bus)
    await library.start(scan=True)  # the dashboard's start: a scan in the background

    def hashing() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("aiui-hash") and t.is_alive()]

    deadline = time.monotonic() + 10
    while not hashing() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert hashing(), "the scan never started hashing"
    await asyncio.sleep(0.5)
    await library.close()
    deadline = time.monotonic() + 10
    while hashing() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert hashing() == []  # within 10 s of the close, against ~60 s for the whole file
