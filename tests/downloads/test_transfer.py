"""One file's transfer against a real server with injected faults: every ending is a verified file."""

from __future__ import annotations

import hashlib
import random
import subprocess

import pytest

from aiui_tui.services.downloads.errors import ChecksumMismatch, DownloadError, NotAModel
from aiui_tui.services.downloads.state import PartState
from tests.downloads.conftest import part_of, payload, tmpfs
from tests.downloads.fault_server import Fault

MiB = 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_plain_download_is_verified_and_leaves_no_part(server, runner):
    data = payload(3 * MiB)
    url = server.add("a.bin", data)
    result = await runner.run(url, "a.bin", expected_sha256=sha(data))
    assert result.verified and result.sha256 == sha(data) and result.size == len(data)
    assert (runner.folder / "a.bin").read_bytes() == data
    assert runner.leftovers() == []


@pytest.mark.parametrize("connections", [1, 4])
async def test_cut_at_random_offsets_always_ends_verified(server, runner, connections):
    """Many trials, each cut at random offsets; with the default single retry, every one completes."""
    rng = random.Random(42 + connections)
    size = 2 * MiB + 12345
    for trial in range(12):
        data = payload(size, seed=trial)
        name = f"t{trial}.bin"
        cuts = sorted(rng.sample(range(1, size), rng.randint(1, 3)))
        url = server.add(name, data, Fault(cut_at=cuts))
        result = await runner.run(
            url,
            name,
            expected_sha256=sha(data),
            connections=connections,
            retries=1,
            segment_threshold=MiB,
            min_piece=256 * 1024,
        )
        assert (runner.folder / name).read_bytes() == data, f"trial {trial} cuts {cuts}"
        assert result.verified
    assert runner.leftovers() == []
    # Resumed, never restarted: every byte crossed the wire once, even those buffered at the cut.
    total_sent = sum(server.bytes_sent(f"t{t}.bin") for t in range(12))
    assert total_sent == 12 * size


async def test_server_errors_then_success(server, runner):
    data = payload(MiB)
    url = server.add("e.bin", data, Fault(statuses=[500, 503]))
    result = await runner.run(url, "e.bin", expected_sha256=sha(data), retries=2)
    assert result.verified
    assert [r.status for r in server.requests] == [500, 503, 206]
    assert any("HTTP 500" in m for _, m in runner.notices)


async def test_server_errors_beyond_the_retries_fail_clearly(server, runner):
    url = server.add("e.bin", payload(MiB), Fault(statuses=[500, 500, 500]))
    with pytest.raises(DownloadError) as err:
        await runner.run(url, "e.bin", retries=1)
    assert err.value.message == "The server failed the request (HTTP 500)."
    assert len(server.requests) == 2  # the attempt and one retry
    assert not (runner.folder / "e.bin").exists()


async def test_429_honours_retry_after(server, runner):
    data = payload(MiB)
    url = server.add("r.bin", data, Fault(statuses=[429], retry_after="1"))
    await runner.run(url, "r.bin", retries=1)
    first, second = server.requests
    assert first.status == 429 and second.at - first.at >= 0.95
    assert any("rate-limited" in m and "Retrying in 1.0s" in m for _, m in runner.notices)


@pytest.mark.parametrize(
    ("status", "token", "expected"),
    [
        (401, None, "needs a token"),
        (404, None, "Not found (HTTP 404)"),
    ],
)
async def test_auth_and_missing_files_are_not_retried(server, runner, status, token, expected):
    from aiui_tui.services.downloads.auth import SourceToken, origin

    url = server.add("g.bin", payload(1000), Fault(require_token="right")) if status == 401 else f"{server.base}/f/none"
    tokens = (SourceToken("huggingface", origin(server.base), token, "set HF_TOKEN"),)
    with pytest.raises(DownloadError) as err:
        await runner.run(url, "g.bin", retries=3, tokens=tokens)
    assert expected in err.value.message and not err.value.retryable
    assert len(server.requests) == 1


async def test_wrong_token_names_the_token_to_check(server, runner):
    from aiui_tui.services.downloads.auth import SourceToken, origin

    url = server.add("g.bin", payload(1000), Fault(require_token="right"))
    tokens = (SourceToken("civitai", origin(server.base), "wrong", "aiui-tui config set-secret civitai_api_token"),)
    with pytest.raises(DownloadError) as err:
        await runner.run(url, "g.bin", tokens=tokens)
    assert err.value.message == "CivitAI refused the token (HTTP 401)."
    assert "civitai_api_token" in err.value.fix


async def test_redirect_to_another_host_drops_the_token(server, other_host, runner):
    from aiui_tui.services.downloads.auth import SourceToken, origin

    data = payload(MiB)
    other_host.add("m.bin", data)
    url = server.add("m.bin", data, Fault(require_token="hf_secret", redirect_to=other_host.base))
    tokens = (SourceToken("huggingface", origin(server.base), "hf_secret", "set HF_TOKEN"),)
    result = await runner.run(url, "m.bin", expected_sha256=sha(data), tokens=tokens)
    assert result.verified
    assert server.requests[0].headers["Authorization"] == "Bearer hf_secret"
    assert other_host.requests and all("Authorization" not in r.headers for r in other_host.requests)


async def test_server_that_ignores_range_restarts_cleanly(server, runner):
    data = payload(2 * MiB)
    url = server.add("i.bin", data, Fault(cut_at=[MiB], ignore_range=True))
    result = await runner.run(url, "i.bin", expected_sha256=sha(data))
    assert result.verified
    assert [r.status for r in server.requests] == [200, 200]
    assert any("does not resume" in m for _, m in runner.notices)


async def test_changed_remote_file_restarts_and_says_so(server, runner):
    old, new = payload(2 * MiB, 1), payload(2 * MiB, 2)
    url = server.add("c.bin", old, Fault(cut_at=[MiB]))
    with pytest.raises(DownloadError):
        await runner.run(url, "c.bin", retries=0)
    assert part_of(runner.folder, "c.bin").stat().st_size >= MiB // 2
    old_etag = server.etags["c.bin"]
    server.change("c.bin", new)
    result = await runner.run(url, "c.bin")
    assert (runner.folder / "c.bin").read_bytes() == new and result.sha256 == sha(new)
    assert server.requests[-1].headers["If-Range"] == old_etag
    assert server.requests[-1].status == 200  # If-Range did not match: the whole new file
    assert any("changed on the server" in m for _, m in runner.notices)


async def test_changed_remote_file_during_a_segmented_download(server, runner):
    old, new = payload(4 * MiB, 3), payload(4 * MiB, 4)
    url = server.add("s.bin", old, Fault(cut_at=[3 * MiB]))
    with pytest.raises(DownloadError):
        await runner.run(url, "s.bin", connections=4, segment_threshold=MiB, retries=0, min_piece=256 * 1024)
    server.change("s.bin", new)
    result = await runner.run(url, "s.bin", connections=4, segment_threshold=MiB, min_piece=256 * 1024)
    assert (runner.folder / "s.bin").read_bytes() == new and result.sha256 == sha(new)


async def test_weak_etag_is_never_used_for_if_range(server, runner):
    data = payload(2 * MiB)
    url = server.add("w.bin", data, Fault(cut_at=[MiB], weak_etag=True))
    await runner.run(url, "w.bin")
    assert all(not r.headers.get("If-Range", "").startswith("W/") for r in server.requests)


async def test_416_on_a_complete_part_just_finishes(server, runner):
    data = payload(MiB)
    url = server.add("d.bin", data)
    job = runner.job(url, "d.bin")
    job.part.write_bytes(data)
    PartState(url=url, etag=server.etags["d.bin"], total=len(data)).save(job.sidecar)
    result = await runner.transfer(job).run()
    assert result.sha256 == sha(data) and result.resumed_from == len(data)
    assert [r.status for r in server.requests] == [416]


async def test_missing_content_length(server, runner):
    data = payload(MiB + 7)
    url = server.add("n.bin", data, Fault(no_length=True))
    result = await runner.run(url, "n.bin", expected_sha256=sha(data))
    assert result.size == len(data) and result.verified


async def test_checksum_mismatch_discards_retries_once_then_fails(server, runner):
    url = server.add("x.bin", payload(MiB))
    with pytest.raises(ChecksumMismatch) as err:
        await runner.run(url, "x.bin", expected_sha256="0" * 64)
    assert "Checksum mismatch" in err.value.message
    assert len([r for r in server.requests if r.status in (200, 206)]) == 2  # one retry
    assert not (runner.folder / "x.bin").exists() and runner.leftovers() == []


@pytest.mark.parametrize(
    ("fault", "name", "expected"),
    [
        (
            Fault(body_override=b"<!DOCTYPE html><html>Please log in</html>", content_type="text/html"),
            "m.safetensors",
            "web page",
        ),
        (
            Fault(
                body_override=b'{"error": "Unauthorized", "message": "Please sign in"}', content_type="application/json"
            ),
            "m.safetensors",
            "web page",
        ),
        (
            Fault(
                body_override=b"<html><body>Access denied</body></html>" + b" " * 900,
                content_type="application/octet-stream",
            ),
            "m.ckpt",
            "HTML page",
        ),
        (
            Fault(body_override=b"not a safetensors header at all" * 40, content_type="binary/octet-stream"),
            "m.safetensors",
            "not a safetensors file",
        ),
    ],
)
async def test_error_pages_are_never_saved_as_models(server, runner, fault, name, expected):
    url = server.add(name, b"unused", fault)
    with pytest.raises(NotAModel) as err:
        await runner.run(url, name, retries=1)
    assert expected in err.value.message
    assert not (runner.folder / name).exists()


async def test_size_far_from_the_expected_one_is_refused_before_saving(server, runner):
    url = server.add("big.bin", payload(2000))
    with pytest.raises(NotAModel, match=r"should be 6\.6 GiB"):
        await runner.run(url, "big.bin", expected_size=7_105_348_592)
    assert runner.leftovers() == []


async def test_slow_throttled_connections_complete(server, runner):
    data = payload(3 * MiB)
    url = server.add("slow.bin", data, Fault(rate=4 * MiB))
    result = await runner.run(
        url, "slow.bin", expected_sha256=sha(data), connections=3, segment_threshold=MiB, min_piece=256 * 1024
    )
    assert result.verified
    ranges = sorted(r.headers["Range"] for r in server.requests)
    assert len(ranges) > 3  # several pieces over three connections


async def test_not_enough_space_is_refused_before_writing(server, runner, tmp_path):
    disk = tmpfs(tmp_path / "small", "4m")
    try:
        runner.folder = disk
        url = server.add("huge.bin", payload(6 * MiB))
        with pytest.raises(DownloadError, match="Not enough disk space"):
            await runner.run(url, "huge.bin")
        assert runner.leftovers() == []
    finally:
        subprocess.run(["umount", str(disk)], check=True)


async def test_disk_full_mid_transfer_keeps_the_part_for_resume(server, runner, tmp_path):
    disk = tmpfs(tmp_path / "small", "4m")
    try:
        runner.folder = disk
        data = payload(6 * MiB)
        url = server.add("full.bin", data, Fault(no_length=True))  # size unknown: no pre-check possible
        with pytest.raises(OSError) as err:
            await runner.run(url, "full.bin")
        assert err.value.errno == 28  # ENOSPC, turned into a clear message by the service
        kept = part_of(disk, "full.bin").stat().st_size
        assert kept > MiB
        part = part_of(disk, "full.bin").name
        assert runner.leftovers() == [part, part + ".json"]  # no empty sidecar .tmp beside them
        subprocess.run(["mount", "-o", "remount,size=16m", str(disk)], check=True)
        result = await runner.run(url, "full.bin", expected_sha256=sha(data))
        assert result.verified and result.resumed_from == kept
    finally:
        subprocess.run(["umount", str(disk)], check=True)


async def test_offline_errors_wait_for_the_network_instead_of_failing(runner):
    # 127.0.0.1:9 refuses; a DNS failure or ENETUNREACH is "offline". Use an unresolvable name.
    url = "http://no-such-host.invalid/f/x.bin"
    job = runner.job(url, "x.bin", retries=0)
    transfer = runner.transfer(job)
    calls = []

    async def wait_online(u):
        calls.append(u)
        if len(calls) == 2:
            raise RuntimeError("stop waiting")
        return True  # it waited for the network to return

    transfer.wait_online = wait_online
    with pytest.raises(RuntimeError, match="stop waiting"):
        await transfer.run()
    assert calls == [url, url]  # waited twice, never counted as failed attempts
    assert any("No network" in m for _, m in runner.notices)


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1:70000/x.bin",
        "http://[::1/x",
        "file:///etc/passwd",
        "ftp://127.0.0.1/x.bin",
        "data:application/octet-stream;base64,AAAA",
        "http://bad host/x.bin",
    ],
)
async def test_a_redirect_to_a_bad_address_is_refused_at_once(server, runner, location):
    url = server.add("r.bin", payload(1000), Fault(location=location))
    with pytest.raises(DownloadError) as err:
        await runner.run(url, "r.bin", retries=3)
    assert "redirected to" in err.value.message and not err.value.retryable
    assert len(server.requests) == 1  # not retried: the answer would be the same
    assert runner.leftovers() == [] and runner.online_waits == []


async def test_a_redirect_to_a_host_that_does_not_resolve_fails_after_the_retries(server, runner):
    """The network is there (the first server answered): the dead host is not "offline" forever."""
    url = server.add("dns.bin", payload(1000), Fault(location="http://no-such-host.invalid/x.bin"))
    with pytest.raises(DownloadError) as err:
        await runner.run(url, "dns.bin", retries=2)
    assert "no-such-host.invalid" in err.value.message
    assert len(server.requests) <= 4 and len(runner.online_waits) == 1


@pytest.mark.parametrize("connections", [1, 4], ids=["sequential", "segmented"])
async def test_a_compressed_body_is_refused_at_once_and_identity_is_asked_for(server, runner, connections):
    data = payload(2 * MiB)
    url = server.add("g.bin", data, Fault(content_encoding="gzip"))
    with pytest.raises(DownloadError) as err:
        await runner.run(url, "g.bin", retries=3, connections=connections, segment_threshold=MiB)
    assert "Content-Encoding: gzip" in err.value.message and not err.value.retryable
    assert len(server.requests) == 1  # one request, no reconnect storm
    assert server.requests[0].headers["Accept-Encoding"] == "identity"
    assert runner.leftovers() == [] and not (runner.folder / "g.bin").exists()


async def test_segments_of_a_file_without_validators_send_no_if_range(server, runner):
    """No ETag or Last-Modified: no `If-Range: ""` (a strict server answers 200 to it, so the download
    restarted three times and failed); the expected hash guards against a splice."""
    data = payload(4 * MiB)
    url = server.add("nv.bin", data, Fault(no_validators=True))
    result = await runner.run(
        url, "nv.bin", expected_sha256=sha(data), connections=4, segment_threshold=MiB, min_piece=256 * 1024
    )
    assert result.verified and (runner.folder / "nv.bin").read_bytes() == data
    requests = server.seen("nv.bin")
    assert len(requests) > 4 and all(if_range is None and status == 206 for _, if_range, status in requests)
    assert server.bytes_sent("nv.bin") == len(data)  # no restart, no second look: the hash decides
    assert not [m for _, m in runner.notices if "Starting over" in m or "starting over" in m]


@pytest.mark.parametrize("connections", [1, 4], ids=["sequential", "segmented"])
async def test_a_file_without_validators_resumes_and_a_second_look_at_its_start_catches_a_change(
    server, runner, connections
):
    size, first = 4 * MiB, 256 * 1024
    old, new = payload(size, 5), payload(size, 6)
    options = {"connections": connections, "segment_threshold": MiB, "min_piece": first}
    url = server.add("nv.bin", old, Fault(no_validators=True, cut_at=[3 * MiB]))
    with pytest.raises(DownloadError):
        await runner.run(url, "nv.bin", retries=0, **options)
    kept = part_of(runner.folder, "nv.bin")
    assert kept.exists()

    server.change("nv.bin", new)  # same size, and nothing (no ETag) says it changed
    result = await runner.run(url, "nv.bin", **options)
    assert (runner.folder / "nv.bin").read_bytes() == new and result.sha256 == sha(new)
    assert any("changed on the server during the download" in m for _, m in runner.notices)
    assert all(if_range is None for _, if_range, _ in server.seen("nv.bin"))

    server.requests.clear()  # unchanged: resumed, checked once, kept
    url = server.add("same.bin", old, Fault(no_validators=True, cut_at=[3 * MiB]))
    with pytest.raises(DownloadError):
        await runner.run(url, "same.bin", retries=0, **options)
    result = await runner.run(url, "same.bin", **options)
    assert (runner.folder / "same.bin").read_bytes() == old
    assert server.bytes_sent("same.bin") <= size + first + 1024 * 1024  # the rest, one first piece, what was buffered
    assert server.seen("same.bin")[-1][0] == f"bytes=0-{first - 1}"
