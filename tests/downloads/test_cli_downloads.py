"""`aiui-tui download` and `aiui-tui downloads` as separate processes: kills, Ctrl+C, offline, the shared queue."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_inprocess import main_cli
from tests.conftest import REPO
from tests.downloads.conftest import malformed_safetensors, part_of, payload, safetensors_payload, tmpfs
from tests.downloads.fault_server import Fault

MiB = 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "CIVITAI_API_TOKEN", "AIUI_ROOT")}
    env["NO_COLOR"] = "1"
    return env


async def start_cli(root: Path, *args: str, prefix: tuple[str, ...] = ()) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *prefix, sys.executable, "-m", "aiui_tui", "--root", str(root), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=cli_env(), cwd=REPO,
    )  # fmt: skip


async def cli(root: Path, *args: str, timeout: float = 60, subprocess: bool | None = None) -> tuple[int, str, str]:
    """`aiui-tui --root ROOT ARGS`: the one-shot `download` in a subprocess (it may end with os._exit),
    the other commands in this process, in a thread (the test's server runs on this loop)."""
    if subprocess is None:
        subprocess = args[:1] == ("download",)
    if not subprocess:
        result = await asyncio.to_thread(main_cli, "--root", str(root), *args, env={"NO_COLOR": "1"})
        return result.returncode, result.stdout, result.stderr
    proc = await start_cli(root, *args)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, out.decode(), err.decode()


async def until(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def test_download_prints_the_verified_path_and_exits_zero(server, root, tmp_path):
    data = safetensors_payload(3 * MiB)
    url = server.add("model.safetensors", data)
    code, out, err = await cli(root, "download", url, "--sha256", sha(data), "--dest", str(tmp_path))
    assert code == 0, err
    assert out.strip() == str(tmp_path / "model.safetensors")
    assert "sha256 verified" in err
    assert (tmp_path / "model.safetensors").read_bytes() == data


async def test_wrong_checksum_exits_one_with_one_line_and_no_file(server, root, tmp_path):
    data = payload(MiB)
    url = server.add("w.bin", data)
    dest = tmp_path / "dest"
    code, _out, err = await cli(root, "download", url, "--sha256", "0" * 64, "--dest", str(dest))
    assert code == 1
    assert "Checksum mismatch for w.bin" in err and "Traceback" not in err
    assert list(dest.iterdir()) == []
    assert server.bytes_sent("w.bin") == 2 * len(data)  # the part was discarded and fetched once more


@pytest.mark.parametrize("connections", [1, 4], ids=["sequential", "segmented"])
async def test_sigkill_at_half_then_a_new_process_refetches_under_one_percent(server, root, tmp_path, connections):
    size = 64 * MiB
    data = payload(size, seed=connections)
    url = server.add("k.bin", data, Fault(rate=12 * MiB // connections))  # ~2.7 s to the middle
    code, _, err = await cli(root, "config", "set", "downloads.segment_threshold_mib", "16")
    assert code == 0, err
    args = ("download", url, "--sha256", sha(data), "--dest", str(tmp_path), "--connections", str(connections))
    proc = await start_cli(root, *args)
    await until(lambda: server.bytes_sent("k.bin") >= size // 2)
    proc.kill()
    await proc.wait()
    assert not (tmp_path / "k.bin").exists()
    assert part_of(tmp_path, "k.bin").exists()

    server.faults["k.bin"].rate = None
    code, _out, err = await cli(root, *args)
    assert code == 0, err
    assert (tmp_path / "k.bin").read_bytes() == data
    refetched = server.bytes_sent("k.bin") - size
    assert refetched <= size // 100, f"{refetched} bytes fetched twice"


@pytest.mark.parametrize("connections", [1, 4], ids=["sequential", "segmented"])
async def test_ctrl_c_keeps_a_part_and_the_same_command_resumes(server, root, tmp_path, connections):
    from aiui_tui.core.format import human_bytes
    from aiui_tui.services.downloads.parts import kept_bytes

    data = payload(16 * MiB)
    url = server.add("c.bin", data, Fault(rate=4 * MiB))
    if connections > 1:
        assert (await cli(root, "config", "set", "downloads.segment_threshold_mib", "8"))[0] == 0
    args = ("download", url, "--dest", str(tmp_path), "--connections", str(connections))
    proc = await start_cli(root, *args)
    await until(lambda: server.bytes_sent("c.bin") >= 2 * MiB)
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 130
    assert "Interrupted:" in err.decode() and "run the same command again to resume" in err.decode()
    assert "Traceback" not in err.decode()
    part = part_of(tmp_path, "c.bin")
    kept = kept_bytes(tmp_path / "c.bin", part.name.split(".")[-2])
    assert MiB <= kept < len(data)
    assert f"Interrupted: {human_bytes(kept)} kept" in err.decode()  # the bytes downloaded, not the preallocation
    if connections > 1:
        return  # resuming a segmented part: test_sigkill_at_half_then_a_new_process_refetches_under_one_percent

    code, listing, _ = await cli(root, "downloads", "list", "--json")
    (item,) = json.loads(listing)["items"]
    assert item["state"] == "paused"

    server.faults["c.bin"].rate = None
    code, _out, err = await cli(root, *args)
    assert code == 0, err
    assert (tmp_path / "c.bin").read_bytes() == data
    assert server.requests[-1].headers["Range"] == f"bytes={kept}-"


async def test_queue_commands_share_one_persistent_queue(server, root, tmp_path):
    data = payload(MiB)
    url = server.add("q.bin", data)
    code, out, err = await cli(root, "downloads", "add", url, "--dest", str(tmp_path), "--sha256", sha(data))
    assert code == 0, err
    assert "Queued q.bin" in out and "downloads run" in out
    _, listing, _ = await cli(root, "downloads", "list", "--json")
    (item,) = json.loads(listing)["items"]
    assert item["state"] == "pending" and item["name"] == "q.bin"

    code, out, err = await cli(root, "downloads", "pause", item["id"][:6])  # a unique prefix is enough
    assert code == 0 and "Paused q.bin" in out
    code, _, err = await cli(root, "downloads", "pause", item["id"])
    assert code == 2 and "is paused" in err and "Traceback" not in err
    code, _, err = await cli(root, "downloads", "resume", item["id"])
    assert code == 0
    code, _, err = await cli(root, "downloads", "run")
    assert code == 0, err
    assert (tmp_path / "q.bin").read_bytes() == data
    _, listing, _ = await cli(root, "downloads", "list")
    assert "q.bin" in listing and "done" in listing

    code, _, err = await cli(root, "downloads", "cancel", "nope")
    assert code in (1, 2) and "nope" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "args, message",
    [
        (("download", "ftp://x/y"), "Not an http(s) URL"),
        (("download", "http://127.0.0.1:70000/x.bin"), "Port out of range"),
        (("downloads", "add", "http://[::1/x.bin"), "Invalid IPv6 URL"),
        (("download", "http://127.0.0.1:1/x", "--sha256", "abc"), "sha256 must be 64"),
        (("download", "http://127.0.0.1:1/x", "--connections", "99"), "Connections must be between"),
    ],
)
async def test_bad_arguments_get_one_line_and_exit_two(root, args, message):
    code, _, err = await cli(root, *args, subprocess=False)  # refused before anything is downloaded
    assert code == 2
    assert message in err and "Traceback" not in err


def read_until(stream, needle: bytes, timeout: float = 30.0) -> bytes:
    """What a child process writes on `stream` up to and including `needle` (read unbuffered)."""
    import select

    deadline = time.monotonic() + timeout
    seen = b""
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0 and select.select([stream], [], [], left)[0], f"no {needle!r} in time: {seen!r}"
        chunk = os.read(stream.fileno(), 65536)
        assert chunk, f"the stream ended before {needle!r}: {seen!r}"
        seen += chunk
    return seen


needs_netns = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None, reason="network namespaces need root and iproute2"
)


@needs_netns
def test_offline_download_waits_for_the_network_then_completes(root, tmp_path):
    """In a private network namespace: lo never brought up is a machine with no network at all.

    The server binds 127.0.0.1 there all the same; connecting answers ENETUNREACH until lo is up.
    """
    ns = f"aiui-test-{os.getpid()}"
    served = tmp_path / "www"
    served.mkdir()
    data = payload(2 * MiB)
    (served / "o.bin").write_bytes(data)
    dest = tmp_path / "dest"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    server = client = None
    try:
        inside = ["ip", "netns", "exec", ns]
        server = subprocess.Popen(
            [*inside, sys.executable, "-u", "-m", "http.server", "-b", "127.0.0.1", "18765", "-d", str(served)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        read_until(server.stdout, b"Serving HTTP on")  # printed once it listens
        client = subprocess.Popen(
            [*inside, sys.executable, "-m", "aiui_tui", "--root", str(root), "download",
             "http://127.0.0.1:18765/o.bin", "--sha256", sha(data), "--dest", str(dest)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(), cwd=REPO,
        )  # fmt: skip
        waiting = read_until(client.stderr, b"Waiting for the network")  # what it says when it waits
        assert client.poll() is None, client.communicate()  # waiting, not failed
        assert not (dest / "o.bin").exists()
        subprocess.run([*inside, "ip", "link", "set", "lo", "up"], check=True)
        _out, rest = client.communicate(timeout=40)
        err = (waiting + rest).decode()
        assert client.returncode == 0, err
        assert (dest / "o.bin").read_bytes() == data
    finally:
        for proc in (client, server):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        subprocess.run(["ip", "netns", "delete", ns], check=False)


async def test_a_hash_given_again_always_applies_and_a_conflicting_one_is_refused(server, root, tmp_path):
    data = payload(MiB)
    url = server.add("h.bin", data)
    code, _, err = await cli(root, "downloads", "add", url, "--dest", str(tmp_path))  # queued without a hash
    assert code == 0, err
    wrong = "ab" * 32
    code, _, err = await cli(root, "download", url, "--dest", str(tmp_path), "--sha256", wrong)
    assert code == 1 and "Checksum mismatch for h.bin" in err and "Traceback" not in err
    assert not (tmp_path / "h.bin").exists()

    code, _, err = await cli(root, "download", url, "--dest", str(tmp_path), "--sha256", sha(data))
    assert code == 2, err  # the queued hash (the wrong one) and this one disagree: both named
    assert wrong in err and sha(data) in err and "Traceback" not in err
    code, _, err = await cli(root, "download", url, "--dest", str(tmp_path), "--sha256", wrong.upper())
    assert code == 1 and "Checksum mismatch" in err  # the same hash in capitals is no conflict

    _, listing, _ = await cli(root, "downloads", "list", "--json")
    (item,) = json.loads(listing)["items"]
    code, _, err = await cli(root, "downloads", "cancel", item["id"])
    assert code == 0, err
    code, _, err = await cli(root, "download", url, "--dest", str(tmp_path), "--sha256", sha(data))
    assert code == 0, err
    assert (tmp_path / "h.bin").read_bytes() == data


async def test_a_hash_given_on_resume_catches_a_file_changed_under_the_same_etag(server, root, tmp_path):
    old, new = payload(8 * MiB, seed=1), payload(8 * MiB, seed=2)
    url = server.add("s.bin", old, Fault(rate=4 * MiB))
    args = ("download", url, "--dest", str(tmp_path), "--connections", "1")
    proc = await start_cli(root, *args)
    await until(lambda: server.bytes_sent("s.bin") >= 2 * MiB)
    proc.send_signal(signal.SIGINT)
    await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 130

    server.files["s.bin"] = new  # a new revision behind the same ETag: If-Range cannot tell
    server.faults["s.bin"].rate = None
    code, _, err = await cli(root, *args, "--sha256", sha(new))
    assert code == 0, err
    assert (tmp_path / "s.bin").read_bytes() == new  # the spliced part was caught and fetched again


async def test_download_into_the_library_refuses_a_malformed_safetensors_file(server, root, tmp_path):
    bad = malformed_safetensors(MiB)
    url = server.add("lora.safetensors", bad)
    code, out, err = await cli(root, "download", url, "--kind", "loras")
    assert code == 1 and out == ""
    lines = [line for line in err.splitlines() if "━" not in line and line.strip()]  # beside the progress bar
    assert len(lines) == 1 and "lora.safetensors is not a valid model file" in lines[0], err
    assert "shape is null" in lines[0] and "Traceback" not in err
    assert list((root / "models" / "loras").iterdir()) == []


async def test_disk_full_mid_download_pauses_with_one_line_and_keeps_only_the_part(server, tmp_path):
    """The data root (queue database included) on a small tmpfs that the download fills up."""
    root = tmpfs(tmp_path / "root", "8m")
    try:
        data = payload(16 * MiB)
        url = server.add("full.bin", data, Fault(no_length=True))  # size unknown: no check before
        args = ("download", url, "--kind", "checkpoints", "--connections", "1")
        code, _, err = await cli(root, *args)
        lines = [line for line in err.splitlines() if "━" not in line and line.strip()]
        assert code == 2 and len(lines) == 1, err
        assert "Disk full while writing full.bin" in lines[0] and "free space" in lines[0]
        folder = root / "models" / "checkpoints"
        part = part_of(folder, "full.bin")
        assert part.stat().st_size > MiB
        left = sorted(p.name for p in folder.iterdir())
        assert left == [part.name, part.name + ".json"]  # the part and its sidecar: no .tmp, no final file
        _, listing, _ = await cli(root, "downloads", "list", "--json")
        (item,) = json.loads(listing)["items"]
        assert item["state"] == "paused" and "Disk full" in item["reason"] and item["owner_pid"] is None

        code, _, err = await cli(root, "downloads", "resume", item["id"])
        assert code == 0, err
        # Still full: paused again, and said so. In this process: nothing under the root is left open
        # (a cursor of a failed write, alive in its error's traceback, kept the closed database's files
        # open until the collector ran, and the tmpfs could not be unmounted).
        code, out, err = await cli(root, "downloads", "run")
        assert code == 1 and "full.bin: Disk full while writing full.bin" in err and "1 paused until fixed" in out
        assert "Traceback" not in err + out
        assert open_under(root) == []

        subprocess.run(["mount", "-o", "remount,size=64m", str(root)], check=True)
        code, _, err = await cli(root, *args)
        assert code == 0, err
        assert (folder / "full.bin").read_bytes() == data
        assert sorted(p.name for p in folder.iterdir()) == ["full.bin"]
    finally:
        subprocess.run(["umount", str(root)], check=True)


def open_under(root: Path) -> list[str]:
    """Files under `root` this process holds open."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(str(root) + "/"):
                found.append(target)
    return found
