"""The queue service against a real fault server: concurrency, intents, restarts, events, names."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import time

import pytest

from aiui_tui.bus import Bus
from aiui_tui.core.downloads import ACTIVE, DONE, FAILED, PAUSED, PENDING
from aiui_tui.core.errors import UsageError
from aiui_tui.core.events import DownloadFinished, DownloadProgress, DownloadQueueChanged, DownloadStateChanged
from aiui_tui.core.requests import DownloadRequest
from aiui_tui.services import make_downloads
from aiui_tui.services.downloads import DownloadService
from aiui_tui.services.downloads.errors import BusyElsewhere, ChecksumMismatch, DiskFull, NotAModel
from tests.conftest import load_services_inputs
from tests.downloads.conftest import (
    LoopbackOnlyResolver,
    malformed_safetensors,
    part_of,
    payload,
    safetensors_payload,
    tmpfs,
)
from tests.downloads.fault_server import Fault

MiB = 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Harness:
    """Services over one data root; `open()` again after `close()` is a restart."""

    def __init__(self, layout, **downloads) -> None:
        self.layout = layout
        self.downloads = downloads
        self.services: list[DownloadService] = []

    async def open(self, *, run_queue: bool = True, resolver=None) -> DownloadService:
        config, credentials = load_services_inputs(self.layout)
        for key, value in {"retry_backoff_s": 0.01, **self.downloads}.items():
            setattr(config.downloads, key, value)
        bus = Bus()
        bus.bind_loop(asyncio.get_running_loop())
        service = make_downloads(self.layout, config, credentials, bus)  # wired as open_services wires it
        service.resolver = resolver  # LoopbackOnlyResolver: a name other than localhost does not resolve
        await service.start(run_queue=run_queue)
        self.services.append(service)
        return service

    async def close_all(self) -> None:
        for service in self.services:
            await service.close()
        self.services.clear()


@pytest.fixture
async def harness(layout, clean_env):
    h = Harness(layout, concurrent=2, connections=1)
    yield h
    await h.close_all()


async def wait_for(predicate, timeout: float = 20.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(step)
    raise AssertionError("condition not reached in time")


async def states(service: DownloadService) -> dict[str, str]:
    return {i.name: i.state for i in await service.items()}


def request(url: str, dest, name: str | None = None, data: bytes | None = None) -> DownloadRequest:
    return DownloadRequest(url=url, dest_dir=dest, name=name, sha256=sha(data) if data else None)


async def test_queue_runs_at_most_concurrent_items_and_verifies_each(server, harness, tmp_path):
    service = await harness.open()
    files = {f"m{i}.safetensors": safetensors_payload(2 * MiB, seed=i) for i in range(4)}
    urls = {name: server.add(name, data, Fault(rate=4 * MiB)) for name, data in files.items()}
    most_active = 0

    def track(event: DownloadStateChanged) -> None:
        nonlocal most_active
        active = sum(1 for s in service._tasks)
        most_active = max(most_active, active)

    service.bus.subscribe(track, DownloadStateChanged)
    for name, data in files.items():
        await service.enqueue(request(urls[name], tmp_path, name, data))

    async def all_done():
        return all(s == DONE for s in (await states(service)).values())

    await wait_for(all_done, timeout=30)
    assert most_active == 2
    for name, data in files.items():
        assert (tmp_path / name).read_bytes() == data
    assert all(i.reason == "verified" for i in await service.items())


async def test_pause_resume_cancel_retry_and_move(server, harness, tmp_path):
    service = await harness.open()
    data = payload(4 * MiB)
    slow = server.add("slow.bin", data, Fault(rate=1 * MiB))
    item = await service.enqueue(request(slow, tmp_path, "slow.bin", data))

    async def part_has_bytes():
        part = part_of(tmp_path, "slow.bin")
        return part.exists() and part.stat().st_size > 0

    await wait_for(part_has_bytes)
    paused = await service.pause(item.id)
    assert paused.state == PAUSED
    await wait_for(lambda: _async(item.id not in service._tasks))
    kept = part_of(tmp_path, "slow.bin").stat().st_size
    assert kept > 0  # pausing keeps the part

    with pytest.raises(UsageError, match="is paused; only a pending, active or failed download can be paused"):
        await service.pause(item.id)

    server.faults["slow.bin"].rate = None
    await service.resume(item.id)
    await wait_for(lambda: _state_is(service, item.id, DONE))
    assert (tmp_path / "slow.bin").read_bytes() == data
    assert server.bytes_sent("slow.bin") < len(data) + 2 * MiB  # resumed, not restarted

    # cancel removes the part; a missing file fails, retry puts it back in line
    big = payload(8 * MiB, seed=7)
    slow2 = server.add("c.bin", big, Fault(rate=1 * MiB))
    c = await service.enqueue(request(slow2, tmp_path, "c.bin", big))
    await wait_for(lambda: _async(part_of(tmp_path, "c.bin").exists()))
    await service.cancel(c.id)
    assert not any("c.bin" in p.name for p in tmp_path.iterdir())
    assert c.id not in {i.id for i in await service.items()}

    gone = await service.enqueue(request(f"{server.base}/f/missing.bin", tmp_path, "missing.bin"))
    failed = await wait_for(lambda: _state_is(service, gone.id, FAILED))
    assert "404" in failed.reason or "not found" in failed.reason.lower()
    server.add("missing.bin", b"x" * 5000)
    await service.retry(gone.id)
    await wait_for(lambda: _state_is(service, gone.id, DONE))

    # reorder: the last pending item moves to the front
    harness_pending = []
    for name in ("p1.bin", "p2.bin", "p3.bin"):
        it = await service.enqueue(request(f"{server.base}/f/{name}", tmp_path, name))
        await service.pause(it.id)
        harness_pending.append(it.id)
    await service.move(harness_pending[2], -2)
    order = [i.id for i in await service.items() if i.id in harness_pending]
    assert order == [harness_pending[2], harness_pending[0], harness_pending[1]]


async def test_restart_resumes_interrupted_items_from_their_parts(server, harness, tmp_path):
    data = payload(6 * MiB)
    url = server.add("r.bin", data, Fault(rate=2 * MiB))
    service = await harness.open()
    item = await service.enqueue(request(url, tmp_path, "r.bin", data))
    await wait_for(
        lambda: _async(part_of(tmp_path, "r.bin").exists() and part_of(tmp_path, "r.bin").stat().st_size > MiB)
    )
    await harness.close_all()  # the dashboard closes mid-download
    kept = part_of(tmp_path, "r.bin").stat().st_size
    sent_before = server.bytes_sent("r.bin")

    server.faults["r.bin"].rate = None
    service = await harness.open()
    row = next(i for i in await service.items() if i.id == item.id)
    assert row.state in (PENDING, ACTIVE)
    await wait_for(lambda: _state_is(service, item.id, DONE))
    assert (tmp_path / "r.bin").read_bytes() == data
    refetched = server.bytes_sent("r.bin") - sent_before - (len(data) - kept)
    assert refetched <= 0.01 * len(data)


async def test_a_cli_added_item_is_picked_up_by_the_running_queue(server, harness, tmp_path):
    runner = await harness.open(run_queue=True)
    data = payload(MiB)
    url = server.add("x.bin", data)
    other = await harness.open(run_queue=False)  # `aiui-tui downloads add` from another process
    assert runner.runs_queue and not other.runs_queue
    item = await other.enqueue(request(url, tmp_path, "x.bin", data))
    await wait_for(lambda: _state_is(runner, item.id, DONE), timeout=10)
    assert (tmp_path / "x.bin").read_bytes() == data


async def test_items_waiting_for_the_network_give_their_slots_to_reachable_items(server, harness, tmp_path):
    """Two HuggingFace files offline (their host does not resolve) and one on a closed local port
    queued first, two slots: the local file queued after them still downloads, the offline ones
    wait, pending, not failed, and the refused one fails after its retries."""
    service = await harness.open(resolver=LoopbackOnlyResolver())
    assert service.config.downloads.concurrent == 2
    offline = [
        await service.enqueue(request(f"http://huggingface.test/r/{n}.safetensors", tmp_path, f"{n}.safetensors"))
        for n in ("a", "b")
    ]
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    refused = await service.enqueue(request(f"http://127.0.0.1:{closed}/f/c.bin", tmp_path, "c.bin"))
    data = payload(MiB)
    local = await service.enqueue(request(server.add("l.bin", data), tmp_path, "l.bin", data))

    await wait_for(lambda: _state_is(service, local.id, DONE), timeout=15)
    assert (tmp_path / "l.bin").read_bytes() == data

    async def both_waiting():
        rows = {i.id: i for i in await service.items()}
        return all(rows[o.id].state == PENDING and "No network" in rows[o.id].reason for o in offline)

    await wait_for(both_waiting, timeout=15)
    gave_up = await wait_for(lambda: _state_is(service, refused.id, FAILED), timeout=15)
    assert "failed" in gave_up.reason and gave_up.attempts == 2  # the server is down, not the network


async def test_queue_changes_from_another_process_reach_this_one_as_a_snapshot(server, harness, tmp_path):
    """`queue add` in another process: the running service publishes the whole queue it now sees."""
    running = await harness.open(run_queue=False)
    seen: list[DownloadQueueChanged] = []
    running.bus.subscribe(seen.append, DownloadQueueChanged)
    cli = await harness.open(run_queue=False)
    item = await cli.enqueue(request(server.add("q.bin", payload(1000)), tmp_path, "q.bin"))
    await wait_for(lambda: _async(any(e.items and item.id in {i.id for i in e.items} for e in seen)), timeout=10)
    await cli.pause(item.id)
    await wait_for(lambda: _async(any(e.items and e.items[-1].state == PAUSED for e in seen)), timeout=10)
    await cli.cancel(item.id)
    await wait_for(lambda: _async(seen[-1].items == ()), timeout=10)


async def test_a_foreground_download_is_not_taken_by_the_running_queue(server, harness, tmp_path):
    """`aiui-tui download` while the dashboard runs the queue: its new item is the command's own."""
    runner = await harness.open(run_queue=True)
    seen: list[DownloadQueueChanged] = []
    runner.bus.subscribe(seen.append, DownloadQueueChanged)
    cli = await harness.open(run_queue=False)
    data = payload(MiB)
    item, new = await cli.submit(request(server.add("f.bin", data), tmp_path, "f.bin", data), foreground=True)
    assert new and item.state == PAUSED
    await wait_for(lambda: _async(any(e.items and e.items[-1].id == item.id for e in seen)), timeout=10)
    marker, _ = await cli.submit(request(f"{server.base}/f/later.bin", tmp_path, "later.bin"), foreground=True)
    await wait_for(lambda: _async(any(e.items and e.items[-1].id == marker.id for e in seen)), timeout=10)
    assert item.id not in runner._tasks  # the runner looked at the queue twice and left it alone
    done = await cli.run_one_shot(item.id, new=new)
    assert done.state == DONE and (tmp_path / "f.bin").read_bytes() == data


async def test_two_downloads_to_one_target_are_refused_not_interleaved(server, harness, tmp_path):
    data = payload(4 * MiB)
    url = server.add("t.bin", data, Fault(rate=2 * MiB))
    first = await harness.open(run_queue=False)
    second = await harness.open(run_queue=False)
    item = await first.enqueue(request(url, tmp_path, "t.bin", data))
    task = asyncio.create_task(first.run_item(item.id, foreground=True))
    await wait_for(lambda: _async(part_of(tmp_path, "t.bin").exists()))
    with pytest.raises(BusyElsewhere, match="being downloaded by another aiui-tui process") as busy:
        await second.run_item(item.id, foreground=True)
    assert isinstance(busy.value, UsageError)  # its own class, still handled where a UsageError is
    server.faults["t.bin"].rate = None
    done = await task
    assert done.state == DONE and (tmp_path / "t.bin").read_bytes() == data


async def test_the_same_url_twice_is_one_item_and_another_url_to_the_same_name_is_refused(server, harness, tmp_path):
    service = await harness.open(run_queue=False)
    url = server.add("d.bin", payload(1000))
    a = await service.enqueue(request(url, tmp_path, "d.bin"))
    b = await service.enqueue(request(url, tmp_path, "d.bin"))
    assert a.id == b.id
    with pytest.raises(UsageError, match="already queued from another URL"):
        await service.enqueue(request(url + "?v=2", tmp_path, "d.bin"))


async def test_a_failed_item_leaves_no_empty_part_behind(server, harness, tmp_path):
    url = server.add("z.bin", payload(100_000), Fault(cut_at=[0, 0, 0]))  # every answer ends at once
    dest = tmp_path / "dest"
    item = await (await harness.open()).enqueue(request(url, dest, "z.bin"))
    failed = await wait_for(lambda: _state_is(harness.services[0], item.id, FAILED))
    assert "still failed after 1 retry" in failed.fix  # not "it will be retried"
    assert list(dest.iterdir()) == []


async def test_a_failed_item_is_replaced_by_a_corrected_url_to_the_same_name(server, harness, tmp_path):
    service = await harness.open()
    wrong = await service.enqueue(request(f"{server.base}/f/typo.bin", tmp_path, "d.bin"))
    await wait_for(lambda: _state_is(service, wrong.id, FAILED))
    data = payload(1000)
    right = await service.enqueue(request(server.add("d.bin", data), tmp_path, "d.bin"))
    assert right.id != wrong.id
    await wait_for(lambda: _state_is(service, right.id, DONE))
    assert [i.id for i in await service.items()] == [right.id]
    assert (tmp_path / "d.bin").read_bytes() == data


async def test_progress_events_are_throttled_to_ten_per_second(server, harness, tmp_path):
    service = await harness.open(run_queue=False)
    data = payload(8 * MiB)
    url = server.add("e.bin", data, Fault(rate=4 * MiB))
    seen: list[tuple[float, DownloadProgress]] = []
    service.bus.subscribe(lambda e: seen.append((time.monotonic(), e)), DownloadProgress)
    item = await service.enqueue(request(url, tmp_path, "e.bin", data))
    await service.run_item(item.id, foreground=True)
    times = [t for t, _ in seen][:-1]  # the last one (done == total) always passes the throttle
    assert len(times) >= 10  # two seconds of progress
    for i in range(len(times) - 10):
        assert times[i + 10] - times[i] >= 0.99, "more than 10 progress events within a second"
    last = seen[-1][1]
    assert last.done == last.total == len(data)
    assert any(e.speed and e.speed > 0 for _, e in seen) and any(e.eta is not None for _, e in seen)


async def test_content_disposition_cannot_escape_the_destination(server, harness, tmp_path):
    service = await harness.open(run_queue=False)
    dest = tmp_path / "models"
    data = payload(5000)
    url = server.add("dl", data, Fault(content_disposition='attachment; filename="../../x"'))
    item = await service.enqueue(DownloadRequest(url=f"{url}?token=1", dest_dir=dest))
    done = await service.run_item(item.id, foreground=True)
    assert done.target == str(dest / "x")
    assert (dest / "x").read_bytes() == data
    assert not (tmp_path / "x").exists()


async def test_finished_event_carries_what_the_library_needs(server, harness, tmp_path):
    service = await harness.open(run_queue=False)
    data = safetensors_payload(3000)
    url = server.add("f.safetensors", data)
    finished: list[DownloadFinished] = []
    service.bus.subscribe(finished.append, DownloadFinished)
    item = await service.enqueue(
        DownloadRequest(url=url, kind="loras", sha256=sha(data), source={"type": "url", "url": url})
    )
    await service.run_item(item.id, foreground=True)
    (event,) = finished
    assert event.path == harness.layout.kind_dir("loras") / "f.safetensors"
    assert event.sha256 == sha(data) and event.verified and event.size == len(data)


async def test_an_existing_file_is_checked_not_downloaded_again(server, harness, tmp_path):
    service = await harness.open(run_queue=False)
    data = safetensors_payload(4000)
    url = server.add("e.safetensors", data)
    (tmp_path / "e.safetensors").write_bytes(data)
    item = await service.enqueue(request(url, tmp_path, "e.safetensors", data))
    done = await service.run_item(item.id, foreground=True)
    assert done.state == DONE and "already there" in done.reason
    assert server.requests == []


async def _async(value):
    return value


async def _state_is(service: DownloadService, item_id: str, state: str):
    item = next((i for i in await service.items() if i.id == item_id), None)
    return item if item is not None and item.state == state else None


async def test_a_hash_given_while_another_process_downloads_is_checked_before_the_rename(server, harness, tmp_path):
    data = payload(3 * MiB)
    url = server.add("late.bin", data, Fault(rate=2 * MiB))
    running = await harness.open(run_queue=False)
    other = await harness.open(run_queue=False)  # `aiui-tui download URL --sha256 ...` in another shell
    item = await running.enqueue(request(url, tmp_path, "late.bin"))
    task = asyncio.create_task(running.run_item(item.id, foreground=True))
    await wait_for(lambda: _async(server.bytes_sent("late.bin") > 0))
    again = await other.enqueue(DownloadRequest(url=url, dest_dir=tmp_path, name="late.bin", sha256="cd" * 32))
    assert again.id == item.id and again.sha256 == "cd" * 32
    server.faults["late.bin"].rate = None
    with pytest.raises(ChecksumMismatch):
        await task
    assert not (tmp_path / "late.bin").exists()


async def test_a_url_named_by_the_server_is_one_item_and_takes_a_later_hash(server, harness, tmp_path):
    service = await harness.open(run_queue=False)
    data = payload(5000)
    url = server.add("dl", data, Fault(content_disposition='attachment; filename="named.bin"'))
    first = await service.enqueue(DownloadRequest(url=url, dest_dir=tmp_path))
    second = await service.enqueue(DownloadRequest(url=url, dest_dir=tmp_path, sha256=sha(data).upper()))
    assert second.id == first.id and second.sha256 == sha(data)
    with pytest.raises(UsageError, match=f"with sha256 {sha(data)}, not {'0' * 64}"):
        await service.enqueue(DownloadRequest(url=url, dest_dir=tmp_path, sha256="0" * 64))
    done = await service.run_item(first.id, foreground=True)
    assert done.reason == "verified" and (tmp_path / "named.bin").read_bytes() == data


async def test_users_files_named_like_parts_are_never_touched(server, harness, tmp_path):
    """`small.bin.part` and `other.bin.part.json` are the user's: neither a download nor a cancel removes them."""
    service = await harness.open(run_queue=False)
    tmp_path = tmp_path / "dest"
    tmp_path.mkdir()
    mine = {
        "small.bin.part": b"my own notes",
        "small.bin.part.json": b'{"not": "yours"}',
        "other.bin.part": b"keep me",
        "other.bin.part.json": b"{}",
        "other.bin.part.progress": b"mine too",
    }
    for name, content in mine.items():
        (tmp_path / name).write_bytes(content)
    data = payload(3 * MiB)
    url = server.add("small.bin", data, Fault(cut_at=[MiB]))
    item = await service.enqueue(request(url, tmp_path, "small.bin", data))
    done = await service.run_item(item.id, foreground=True)
    assert done.state == DONE and (tmp_path / "small.bin").read_bytes() == data

    slow = server.add("other.bin", payload(4 * MiB), Fault(rate=MiB))
    other = await service.enqueue(request(slow, tmp_path, "other.bin"))
    task = asyncio.create_task(service.run_item(other.id, foreground=True))
    await wait_for(lambda: _async(part_of(tmp_path, "other.bin").exists()))
    assert other.id in part_of(tmp_path, "other.bin").name  # the part names its queue item
    await service.cancel(other.id)
    await asyncio.gather(task, return_exceptions=True)
    assert not part_of(tmp_path, "other.bin").exists()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name in mine} == mine
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*mine, "small.bin"])


def _legacy_part(folder, name: str, url: str, data: bytes, kept: int, etag: str) -> None:
    """A part as versions before the hidden names left it: NAME.part and NAME.part.json."""
    from aiui_tui.services.downloads.state import PartState

    (folder / f"{name}.part").write_bytes(data[:kept])
    PartState(url=url, final_url=url, etag=etag, total=len(data)).save(folder / f"{name}.part.json")


async def test_a_part_left_under_the_old_names_resumes_and_cancel_removes_it_only_when_ours(server, harness, tmp_path):
    service = await harness.open(run_queue=False)
    tmp_path = tmp_path / "dest"
    tmp_path.mkdir()
    data = payload(4 * MiB)
    url = server.add("old.bin", data)
    item = await service.enqueue(request(url, tmp_path, "old.bin", data))
    _legacy_part(tmp_path, "old.bin", url, data, 3 * MiB, server.etags["old.bin"])
    done = await service.run_item(item.id, foreground=True)
    assert done.state == DONE and (tmp_path / "old.bin").read_bytes() == data
    assert [r.headers["Range"] for r in server.requests] == [f"bytes={3 * MiB}-"]  # resumed, not restarted
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.bin"]

    url2 = server.add("gone.bin", data)
    queued = await service.enqueue(request(url2, tmp_path, "gone.bin", data))
    _legacy_part(tmp_path, "gone.bin", url2, data, MiB, server.etags["gone.bin"])
    stranger = await service.enqueue(request(url2 + "?x", tmp_path, "stranger.bin"))
    _legacy_part(tmp_path, "stranger.bin", f"{server.base}/f/another", data, MiB, "")  # another download's
    await service.cancel(queued.id)
    await service.cancel(stranger.id)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.bin", "stranger.bin.part", "stranger.bin.part.json"]


@pytest.mark.parametrize(
    ("header_name", "expected"),
    [
        ("模型" * 100 + ".safetensors", "模型" * 31 + ".safetensors"),  # 600 bytes of CJK: cut to 200, whole chars
        ("😀" * 80 + "🏳️‍🌈.bin", "😀" * 49 + ".bin"),
        ("invoice\u202egnp.exe", "invoicegnp.exe"),  # a right-to-left override would show "exe.png"
        ("\u200bzero\ufeffwidth\u2066.bin", "zerowidth.bin"),
    ],
    ids=["cjk", "emoji", "bidi", "format"],
)
async def test_hostile_server_names_are_cut_to_fit_and_cleaned(server, harness, tmp_path, header_name, expected):
    from urllib.parse import quote

    service = await harness.open(run_queue=False)
    data = safetensors_payload(5000)
    disposition = f"attachment; filename*=UTF-8''{quote(header_name)}"
    url = server.add("named", data, Fault(content_disposition=disposition))
    item = await service.enqueue(DownloadRequest(url=url, dest_dir=tmp_path / "dest"))
    done = await service.run_item(item.id, foreground=True)
    assert done.name == expected and len(expected.encode()) <= 200
    assert (tmp_path / "dest" / expected).read_bytes() == data


@pytest.mark.parametrize("url", ["http://127.0.0.1:70000/x.bin", "http://[::1/x.bin", "file:///etc/passwd"])
async def test_an_address_that_cannot_be_downloaded_is_refused_when_queued(harness, tmp_path, url):
    service = await harness.open(run_queue=False)
    with pytest.raises(UsageError, match="Cannot download"):
        await service.enqueue(DownloadRequest(url=url, dest_dir=tmp_path))
    assert await service.items() == []


async def test_a_finished_safetensors_download_must_pass_the_library_header_check(server, harness, tmp_path):
    service = await harness.open(run_queue=False)
    bad = malformed_safetensors(2 * MiB)
    url = server.add("bad.safetensors", bad)
    item = await service.enqueue(DownloadRequest(url=url, kind="loras", sha256=sha(bad)))
    with pytest.raises(NotAModel, match=r"not a valid model file \(tensor 'w': shape is null"):
        await service.run_item(item.id, foreground=True)
    loras = harness.layout.kind_dir("loras")
    assert list(loras.iterdir()) == []  # neither moved into the library nor left as a part
    (row,) = await service.items()
    assert row.state == FAILED and "not a valid model file" in row.reason

    (loras / "there.safetensors").write_bytes(bad)  # already in the library, and broken
    there = await service.enqueue(DownloadRequest(url=server.add("there.safetensors", bad), kind="loras"))
    with pytest.raises(NotAModel, match="exists and is not a valid model file"):
        await service.run_item(there.id, foreground=True)
    assert server.requests[-1].name == "bad.safetensors"  # nothing fetched for it


async def test_not_enough_space_pauses_the_item_with_the_reason_and_exit_code_two(server, harness, tmp_path):
    import subprocess

    small = tmpfs(tmp_path / "small", "4m")
    try:
        service = await harness.open(run_queue=False)
        url = server.add("big.bin", payload(6 * MiB))
        item = await service.enqueue(request(url, small, "big.bin"))
        with pytest.raises(DiskFull) as err:
            await service.run_item(item.id, foreground=True)
        assert err.value.exit_code == 2 and "Not enough disk space" in err.value.message
        (row,) = await service.items()
        assert row.state == PAUSED and row.reason == err.value.message and row.fix and row.owner_pid is None
        assert list(small.iterdir()) == []
    finally:
        subprocess.run(["umount", str(small)], check=True)


async def test_an_unnamed_item_redirected_to_ftp_fails_once_in_the_queue_not_every_second(server, harness, tmp_path):
    service = await harness.open(run_queue=True)
    url = server.add("dl", payload(1000), Fault(location="ftp://127.0.0.1/model.safetensors"))
    item = await service.enqueue(DownloadRequest(url=url, dest_dir=tmp_path))  # named by the server, later
    failed = await wait_for(lambda: _state_is(service, item.id, FAILED))
    assert "redirected to 'ftp://127.0.0.1/model.safetensors'" in failed.reason and "ftp:" in failed.reason
    await asyncio.sleep(2.5)  # the scheduler looks every second
    assert len(server.requests) == 1


def test_a_write_that_meets_a_locked_queue_fails_once_and_the_next_works(tmp_path, monkeypatch):
    """BEGIN IMMEDIATE failing on a lock held by another process must give the store's thread lock
    back: a dashboard would otherwise hang on its next queue call. (A 1 s busy timeout here: the
    10 s one is waited out by tests/test_state_databases.py through the real command line.)"""
    import threading

    from aiui_tui.core.errors import DatabaseProblem
    from aiui_tui.services import sqlite as state_sqlite

    monkeypatch.setattr(state_sqlite, "BUSY_TIMEOUT_S", 1)
    from aiui_tui.services.downloads.store import QueueStore
    from tests.test_state_databases import _hold_lock

    store = QueueStore(tmp_path / "downloads.sqlite")
    holder = _hold_lock(tmp_path / "downloads.sqlite", exclusive_mode=False)
    try:
        with pytest.raises(DatabaseProblem, match=r"locked by another process.*still locked after 1 s"):
            store.delete("nothing")  # waits out the busy timeout, then one line
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)
    done = threading.Event()
    threading.Thread(target=lambda: (store.delete("nothing"), done.set()), daemon=True).start()
    assert done.wait(15), "the store's lock was never released"
    store.close()
