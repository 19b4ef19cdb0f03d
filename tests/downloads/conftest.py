"""Fixtures for the download tests: fault servers on two loopback hosts, a Transfer runner."""

from __future__ import annotations

import json
import os
import random
import socket
from pathlib import Path

import aiohttp
import aiohttp.abc
import pytest

from aiui_tui.services.downloads.transfer import Job, Transfer
from tests.downloads.fault_server import fault_server


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A data root made as `init` makes it: commands other than `init` refuse a missing one."""
    from aiui_tui.paths import Layout, ensure_layout

    path = tmp_path / "root"
    ensure_layout(Layout(path))
    return path


@pytest.fixture
async def server():
    async with fault_server("127.0.0.1") as s:
        yield s


@pytest.fixture
async def other_host():
    """A second origin: another loopback address, as a CDN on another host would be."""
    async with fault_server("127.0.0.2") as s:
        yield s


class LoopbackOnlyResolver(aiohttp.abc.AbstractResolver):
    """Names never leave the machine: `localhost` is 127.0.0.1, any other name fails as DNS would."""

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list:
        if host != "localhost":
            raise OSError(socket.EAI_NONAME, f"{host}: name not known (tests resolve no names)")
        return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET, "proto": 0, "flags": 0}]

    async def close(self) -> None:
        pass


@pytest.fixture
async def session():
    connector = aiohttp.TCPConnector(resolver=LoopbackOnlyResolver())
    async with aiohttp.ClientSession(auto_decompress=False, read_bufsize=1 << 20, connector=connector) as s:
        yield s


def payload(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


class Runner:
    """Runs Transfers into one folder and keeps what they reported."""

    def __init__(self, session: aiohttp.ClientSession, folder: Path) -> None:
        self.session = session
        self.folder = folder
        self.notices: list[tuple[str, str]] = []
        self.progress: list[tuple[int, int | None]] = []
        self.online_waits: list[str] = []

    def job(self, url: str, name: str = "model.safetensors", **kwargs) -> Job:
        kwargs.setdefault("backoff_base", 0.01)
        kwargs.setdefault("connections", 1)
        return Job(url=url, target=self.folder / name, **kwargs)

    def transfer(self, job: Job) -> Transfer:
        async def wait_online(url: str) -> bool:
            self.online_waits.append(url)
            return False  # the network is there (these servers are on loopback)

        return Transfer(
            job,
            self.session,
            on_progress=lambda d, t: self.progress.append((d, t)),
            notify=lambda level, msg: self.notices.append((level, msg)),
            wait_online=wait_online,
        )

    async def run(self, url: str, name: str = "model.safetensors", **kwargs):
        return await self.transfer(self.job(url, name, **kwargs)).run()

    def leftovers(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir() if ".part" in p.name or p.name.startswith("."))


@pytest.fixture
def runner(session, tmp_path):
    folder = tmp_path / "dest"
    folder.mkdir()
    return Runner(session, folder)


def part_of(folder: Path, name: str) -> Path:
    """The hidden part of `name`'s download in `folder` (`.NAME[.ID].aiui-part`); a path that does
    not exist when there is none."""
    found = [p for p in folder.iterdir() if p.name.startswith(f".{name}.") and p.name.endswith(".aiui-part")]
    assert len(found) <= 1, found
    return found[0] if found else folder / f".{name}.aiui-part"


def tmpfs(path: Path, size: str):
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    return path


def safetensors_payload(size: int, seed: int = 1) -> bytes:
    """A valid safetensors file of exactly `size` bytes (one U8 tensor of random bytes after the header),
    so both the not-a-model sniffing and the library's header check let it pass."""
    data_len = size
    for _ in range(4):  # the header holds the data's length, which depends on the header's
        header = json.dumps(
            {
                "__metadata__": {"format": "pt"},
                "w": {"dtype": "U8", "shape": [data_len], "data_offsets": [0, data_len]},
            },
            separators=(",", ":"),
        ).encode()
        header += b" " * (-len(header) % 8)
        data_len = size - 8 - len(header)
    assert data_len >= 0, "too small for a safetensors file"
    return len(header).to_bytes(8, "little") + header + random.Random(seed).randbytes(data_len)


def malformed_safetensors(size: int, seed: int = 1) -> bytes:
    """Passes the first-bytes sniff (a length, then `{`) but not the header check: `"shape": null`."""
    good = safetensors_payload(size, seed)
    n = int.from_bytes(good[:8], "little")
    header = json.loads(good[8 : 8 + n])
    header["w"]["shape"] = None
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (n - len(raw))
    assert len(raw) == n
    return good[:8] + raw + good[8 + n :]
