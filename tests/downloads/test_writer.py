"""The part writer and the stream hasher: batches of chunks land byte-exact, writeback starts as the
file grows, and the hasher's inbox is bounded by bytes (a slow hasher makes the writer wait)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from aiui_tui.services.downloads import writer as writer_module
from aiui_tui.services.downloads.state import PartState
from aiui_tui.services.downloads.writer import IOV_MAX, PartWriter, StreamHasher, pwritev_all
from tests.downloads.conftest import payload

KiB = 1024
MiB = 1024 * KiB


def chunks_of(data: bytes, sizes: list[int]) -> list[bytes]:
    out, position, i = [], 0, 0
    while position < len(data):
        size = sizes[i % len(sizes)]
        out.append(data[position : position + size])
        position += size
        i += 1
    return out


def wait_for(condition, what: str) -> None:
    """Poll for a positive condition (never a timed assertion: the bound only ends a hung test)."""
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.002)


def test_pwritev_all_writes_more_buffers_than_one_call_takes(tmp_path: Path):
    data = payload(3 * IOV_MAX * 7 + 5)
    buffers = chunks_of(data, [1, 7, 13, 0, 29])  # empty buffers too
    assert len(buffers) > 2 * IOV_MAX
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    fd = os.open(path, os.O_RDWR)
    try:
        assert pwritev_all(fd, buffers, 100) == len(data)
    finally:
        os.close(fd)
    assert path.read_bytes() == b"x" * 100 + data


async def test_a_batch_of_many_chunks_lands_byte_exact_at_its_offset_also_after_a_resume(tmp_path: Path):
    data = payload(2 * MiB + 777)
    part, sidecar = tmp_path / "p", tmp_path / "p.json"
    cut = MiB + 4321
    state = PartState(url="http://127.0.0.1/x")
    hasher = StreamHasher(part)
    try:
        w = PartWriter(part, sidecar, state, hasher)
        await w.open(0)
        position = 0
        for batch in [chunks_of(data[:cut][i : i + 300 * KiB], [1000, 65536, 3]) for i in range(0, cut, 300 * KiB)]:
            await w.write(position, batch)
            position += sum(map(len, batch))
        await w.close()
        assert part.read_bytes() == data[:cut]
    finally:
        hasher.close()

    # A resume: a new attempt (and hasher) goes on from the part's end; the prefix is read back.
    hasher = StreamHasher(part)
    try:
        w = PartWriter(part, sidecar, state, hasher)
        await w.open(cut)
        await w.write(cut, chunks_of(data[cut:], [4096, 17, 100_000]))
        await w.close()
        assert part.read_bytes() == data
        assert hasher.result(len(data)) == hashlib.sha256(data).hexdigest()
    finally:
        hasher.close()


async def test_writeback_is_started_as_the_file_grows(tmp_path: Path):
    part = tmp_path / "p"
    hasher = StreamHasher(part)
    try:
        w = PartWriter(part, tmp_path / "p.json", PartState(url="u"), hasher, writeback_bytes=64 * KiB)
        await w.open(0)
        data = payload(336 * KiB)
        for position in range(0, len(data), 32 * KiB):
            await w.write(position, [data[position : position + 32 * KiB]])
            if position == 64 * KiB:  # 96 KiB written: one 64 KiB range started, the rest not yet
                await w.drain()
                assert w.writebacks == [(0, 64 * KiB)]
        await w.close()  # the tail's writeback starts when the attempt ends
        assert w.writebacks == [(i * 64 * KiB, (i + 1) * 64 * KiB) for i in range(5)] + [(320 * KiB, 336 * KiB)]
        assert part.read_bytes() == data
    finally:
        hasher.close()


async def test_writeback_falls_back_to_fdatasync_without_sync_file_range(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(writer_module, "_sync_file_range", False)  # as on a system without it
    synced: list[int] = []
    real = writer_module.os.fdatasync
    monkeypatch.setattr(writer_module.os, "fdatasync", lambda fd: (synced.append(fd), real(fd)))
    part = tmp_path / "p"
    hasher = StreamHasher(part)
    try:
        w = PartWriter(part, tmp_path / "p.json", PartState(url="u"), hasher, writeback_bytes=64 * KiB)
        await w.open(0)
        await w.write(0, [payload(200 * KiB)])
        await w.close()
    finally:
        hasher.close()
    assert len(synced) == 1 and w.writebacks == [(0, 200 * KiB)]


async def test_a_write_already_done_is_collected_without_waking_the_event_loop(tmp_path: Path, monkeypatch):
    """Each batch's write is collected when the next batch is queued; one already finished is read as
    it is, not wrapped in an asyncio future (which wakes the loop through its self-pipe, per batch)."""
    loop = asyncio.get_running_loop()
    wakeups: list[object] = []
    real = loop.call_soon_threadsafe
    monkeypatch.setattr(loop, "call_soon_threadsafe", lambda *a, **k: (wakeups.append(a[0]), real(*a, **k))[1])
    data = payload(20 * 64 * KiB)
    part = tmp_path / "p"
    hasher = StreamHasher(part)
    try:
        w = PartWriter(part, tmp_path / "p.json", PartState(url="u"), hasher)
        await w.open(0)
        wakeups.clear()
        for position in range(0, len(data), 64 * KiB):
            await w.write(position, [data[position : position + 64 * KiB]])
            wait_for(lambda: not w._inflight or w._inflight[-1].done(), "the batch is written")  # found done next
        await w.drain()
        assert wakeups == []  # no batch woke the loop
        await w.close()
    finally:
        hasher.close()
    assert part.read_bytes() == data


async def test_a_failed_write_already_done_raises_at_the_next_write(tmp_path: Path, monkeypatch):
    failing = threading.Event()

    def disk_full(fd, buffers, offset):
        failing.wait(20)  # not done when its write() returns: collected by the next one
        raise OSError(28, "No space left on device")

    part = tmp_path / "p"
    hasher = StreamHasher(part)
    try:
        w = PartWriter(part, tmp_path / "p.json", PartState(url="u"), hasher)
        await w.open(0)
        monkeypatch.setattr(writer_module, "pwritev_all", disk_full)
        await w.write(0, [b"x" * KiB])
        failing.set()
        wait_for(lambda: w._inflight[-1].done(), "the write failed")
        with pytest.raises(OSError, match="No space left"):
            await w.write(KiB, [b"y" * KiB])
        monkeypatch.undo()
        await w.close()
    finally:
        hasher.close()


class GatedHasher(StreamHasher):
    """A hasher that hashes nothing until the gate opens: as a hasher that has fallen far behind."""

    def __init__(self, path: Path, **kwargs) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()  # the hasher's thread holds a chunk, waiting at the gate
        super().__init__(path, **kwargs)

    def _update(self, data) -> None:
        self.entered.set()
        self.gate.wait()
        super()._update(data)


def test_a_slow_hasher_makes_the_writer_wait_instead_of_growing_memory(tmp_path: Path):
    chunk, limit = 64 * KiB, 256 * KiB
    data = payload(40 * chunk)
    hasher = GatedHasher(tmp_path / "unused", inbox_bytes=limit)
    offered = 0

    def writer_thread() -> None:
        nonlocal offered
        for i in range(0, len(data), chunk):
            hasher.offer_chunks(i, [data[i : i + chunk]])
            hasher.advance(i + chunk)
            offered += 1

    thread = threading.Thread(target=writer_thread)
    thread.start()
    try:
        # Four chunks fit; the fifth goes over the bound, so its offer waits for the hasher.
        wait_for(lambda: hasher.queued == limit + chunk, "the inbox filled up")
        assert offered == 4 and thread.is_alive()
        assert hasher.queued <= limit + chunk
    finally:
        hasher.gate.set()
    thread.join(20)
    assert offered == 40
    assert hasher.result(len(data)) == hashlib.sha256(data).hexdigest()
    assert hasher.read_back == 0  # nothing was dropped and read back from the file (it does not exist)
    hasher.close()


def test_a_hasher_that_fails_never_leaves_the_writer_waiting(tmp_path: Path):
    class Broken(StreamHasher):
        def _update(self, data) -> None:
            raise ValueError("broken")

    hasher = Broken(tmp_path / "unused", inbox_bytes=KiB)
    for i in range(10):  # would wait forever on a full inbox if the dead hasher were waited for
        hasher.offer_chunks(i * 4 * KiB, [b"x" * 4 * KiB])
    with pytest.raises(ValueError, match="broken"):
        hasher.result(40 * KiB)
    hasher.close()


async def test_a_close_whose_last_save_fails_leaves_no_thread_behind(tmp_path: Path):
    """The sidecar's folder is gone when the writer closes (as a save fails on a full disk)."""
    folder = tmp_path / "sidecars"
    folder.mkdir()
    part = tmp_path / "p"
    hasher = StreamHasher(part)
    try:
        w = PartWriter(part, folder / "p.json", PartState(url="http://127.0.0.1/x"), hasher)
        await w.open(0)
        await w.write(0, [b"x" * KiB])
        await w.drain()
        (folder / "p.json").unlink()
        folder.rmdir()
        with pytest.raises(OSError):
            await w.close()
        wait_for(
            lambda: not any(t.name.startswith("write p") for t in threading.enumerate()), "the writer's thread ended"
        )
        assert part.read_bytes() == b"x" * KiB
    finally:
        hasher.close()


class Releases:
    """Release calls (receiver.py's buffers), recording who called them and whether the hasher's
    thread was still running then."""

    def __init__(self, hasher: StreamHasher | None = None) -> None:
        self.hasher = hasher
        self.calls: list[tuple[str, bool]] = []
        self.lock = threading.Lock()

    def __call__(self, name: str):
        def release() -> None:
            with self.lock:
                alive = self.hasher is not None and self.hasher._thread.is_alive()
                self.calls.append((name, alive and threading.current_thread() is not self.hasher._thread))

        return release

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def test_offered_chunks_are_released_once_hashed_in_order_and_not_before(tmp_path: Path):
    hasher = GatedHasher(tmp_path / "unused")
    releases = Releases()
    try:
        assert hasher.offer_chunks(0, [b"a" * KiB, b"b" * KiB], releases("first"))
        assert hasher.offer_chunks(2 * KiB, [b"c" * KiB], releases("second"))
        assert not hasher.offer_chunks(10 * KiB, [b"d"], releases("not taken"))  # not where the stream goes on
        time.sleep(0.05)
        assert releases.names() == []  # nothing hashed yet: the buffers must not be filled again
        hasher.gate.set()
        assert hasher.result(3 * KiB) == hashlib.sha256(b"a" * KiB + b"b" * KiB + b"c" * KiB).hexdigest()
        wait_for(lambda: len(releases.calls) == 2, "both batches released")
        assert releases.names() == ["first", "second"]
    finally:
        hasher.close()
    assert releases.names() == ["first", "second"]  # each once; close releases nothing twice


def test_chunks_dropped_by_close_are_released_only_after_the_hasher_stops(tmp_path: Path):
    hasher = GatedHasher(tmp_path / "unused")
    releases = Releases(hasher)
    hasher.offer_chunks(0, [b"a" * KiB], releases("being hashed"))
    hasher.offer_chunks(KiB, [b"b" * KiB], releases("queued"))
    assert hasher.entered.wait(20), "the hasher never took the first chunk"
    closing = threading.Thread(target=hasher.close)
    closing.start()
    time.sleep(0.1)
    assert releases.calls == []  # the hasher's thread may still read the first chunk
    hasher.gate.set()
    closing.join(10)
    assert sorted(releases.names()) == ["being hashed", "queued"]
    assert not any(alive for _, alive in releases.calls)  # released after the thread stopped


async def test_a_write_the_hasher_does_not_take_is_released_once_written(tmp_path: Path):
    part = tmp_path / "p"
    hasher = StreamHasher(part)
    releases = Releases()
    try:
        w = PartWriter(part, tmp_path / "p.json", PartState(url="http://127.0.0.1/x"), hasher)
        await w.open(0)
        await w.write(0, [b"x" * KiB], None, releases("in order"))
        await w.write(8 * KiB, [b"y" * KiB], None, releases("ahead of the hashed stream"))
        await w.close()
        wait_for(lambda: len(releases.calls) == 2, "both writes released")
        assert set(releases.names()) == {"in order", "ahead of the hashed stream"}
        assert part.read_bytes()[8 * KiB :] == b"y" * KiB
    finally:
        hasher.close()
    assert len(releases.calls) == 2


async def test_a_sequential_download_with_a_slow_hasher_hashes_from_memory_only(server, runner, monkeypatch):
    """A hasher that falls behind makes the download wait: it never drops chunks to read them back."""
    monkeypatch.setattr(writer_module, "INBOX_BYTES", 128 * KiB)

    def slow_update(self, data) -> None:
        time.sleep(0.001)  # a slow hasher (not a timing assertion)
        self._sha.update(data)

    monkeypatch.setattr(StreamHasher, "_update", slow_update)
    data = payload(3 * MiB + 99)
    url = server.add("slow-hash.bin", data)
    transfer = runner.transfer(runner.job(url, "slow-hash.bin", expected_sha256=hashlib.sha256(data).hexdigest()))
    result = await transfer.run()
    assert result.verified and (runner.folder / "slow-hash.bin").read_bytes() == data
    assert transfer.hasher.read_back == 0


async def test_a_segmented_download_with_a_slow_hasher_is_verified(server, runner, monkeypatch):
    """Chunks that continue the hashed stream are hashed from memory, pieces written ahead of it are
    read back once the frontier passes them (which happens depends on timing), and a full inbox only
    slows the writer: either way the digest is the file's."""
    monkeypatch.setattr(writer_module, "INBOX_BYTES", 64 * KiB)

    def slow_update(self, data) -> None:
        time.sleep(0.0005)  # a slow hasher (not a timing assertion)
        self._sha.update(data)

    monkeypatch.setattr(StreamHasher, "_update", slow_update)
    data = payload(3 * MiB + 4321, seed=7)
    url = server.add("seg.bin", data)
    job = runner.job(
        url,
        "seg.bin",
        expected_sha256=hashlib.sha256(data).hexdigest(),
        connections=4,
        segment_threshold=MiB,
        min_piece=256 * KiB,
    )
    transfer = runner.transfer(job)
    result = await transfer.run()
    assert result.verified and result.sha256 == hashlib.sha256(data).hexdigest()
    assert (runner.folder / "seg.bin").read_bytes() == data


FIRST_DOWNLOAD = r"""
import asyncio, hashlib, http.server, importlib.abc, sys, threading
from pathlib import Path

on_loop_thread = {}


class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name in ("aiohttp", "aiui_tui.services.downloads.transfer"):
            on_loop_thread.setdefault(name, threading.current_thread() is threading.main_thread())
        return None


sys.meta_path.insert(0, Spy())
from aiui_tui.bus import Bus
from aiui_tui.config import load_config
from aiui_tui.core.requests import DownloadRequest
from aiui_tui.credentials import load_credentials
from aiui_tui.paths import Layout, ensure_layout
from aiui_tui.services.downloads import DownloadService

root, www = Path(sys.argv[1]), Path(sys.argv[2])
data = bytes(range(256)) * 64
(www / "m.bin").write_bytes(data)
handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(www), **k)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
threading.Thread(target=server.serve_forever, daemon=True).start()


async def main():
    layout = Layout(root)
    ensure_layout(layout)
    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    service = DownloadService(layout, load_config(layout, env={}), load_credentials(layout, env={}), bus)
    await service.start(run_queue=False)
    assert "aiohttp" not in sys.modules, "imported before the first download"
    url = f"http://127.0.0.1:{server.server_address[1]}/m.bin"
    digest = hashlib.sha256(data).hexdigest()
    item = await service.enqueue(DownloadRequest(url=url, dest_dir=root / "out", sha256=digest))
    await service.run_item(item.id, foreground=True)
    await service.close()
    assert (root / "out" / "m.bin").read_bytes() == data


asyncio.run(main())
server.shutdown()
print(sorted(on_loop_thread.items()))
import json, ssl
import aiohttp.connector as connector

print(json.dumps({
    "verified": connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"],
    "unverified": connector._SSL_CONTEXT_UNVERIFIED.cert_store_stats()["x509_ca"],
    "default": ssl.create_default_context().cert_store_stats()["x509_ca"],
    "restored": ssl.SSLContext.set_default_verify_paths is ssl._SSLContext.set_default_verify_paths,
}))
"""


@pytest.fixture(scope="module")
def first_download(tmp_path_factory) -> list[str]:
    """A fresh interpreter's first download (the service's own path), its output lines."""
    import subprocess
    import sys

    tmp_path = tmp_path_factory.mktemp("first")
    (tmp_path / "www").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", FIRST_DOWNLOAD, str(tmp_path / "root"), str(tmp_path / "www")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()


def test_the_first_download_imports_aiohttp_off_the_event_loop(first_download):
    """aiohttp's import (~0.3 s) would freeze the dashboard at the first download: it runs on a thread."""
    assert first_download[0] == "[('aiohttp', False), ('aiui_tui.services.downloads.transfer', False)]"


def test_aiohttps_context_that_verifies_nothing_loads_no_ca_bundle_and_the_verifying_one_does(first_download):
    """aiohttp loads the CA bundle into both its TLS contexts at import (~50 ms each); the one for
    `ssl=False` (CERT_NONE) never consults it, so the first download's import skips that one only."""
    import json

    stats = json.loads(first_download[1])
    if not stats["default"]:
        pytest.skip("no system CA bundle here: nothing to compare")
    assert stats["unverified"] == 0
    assert stats["verified"] == stats["default"]  # https is verified as before
    assert stats["restored"]  # ssl is left as it was
