"""Container CPU, memory, block and network figures read from the cgroup files: one 1 Hz poll for all.

A streaming `docker stats` reader per container costs a thread, an HTTP stream and a JSON parse every
second each (10 containers: a quarter of a core). Where the engine runs on this machine, the same
figures are in the kernel's files; one tick reads them all in one worker thread. The figures match
`docker stats`:
  - CPU: the cgroup's CPU time over wall time, in percent of one core (4 busy cores: 400%);
  - memory: usage minus inactive_file (cgroup v2: memory.current - inactive_file; v1:
    memory.usage_in_bytes - total_inactive_file); the limit is the host's memory when none is set;
  - block I/O: bytes read and written (io.stat on v2, blkio.throttle.io_service_bytes on v1);
  - network: the container's own interfaces (not `lo`) from /proc/<pid>/net/dev; none on the host's
    network, where Docker reports none either.
Where the files cannot be read (a remote engine, Docker Desktop's VM, a path not found, permission
denied), `locate` says None and the caller keeps the streaming reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiui_tui.core.events import ContainerStats

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC = Path("/proc")
POLL_S = 1.0
_V1_BLKIO = ("blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_service_bytes")


# --- parsers (file text -> numbers) ----------------------------------------------------------


def parse_flat_keyed(text: str) -> dict[str, int]:
    """`key value` lines (cpu.stat, memory.stat): the integer values by key."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            values[key] = int(value)
    return values


def parse_io_stat(text: str) -> tuple[int, int]:
    """cgroup v2 io.stat (`8:0 rbytes=1 wbytes=2 rios=...` per device): bytes read and written, all devices."""
    read = write = 0
    for line in text.splitlines():
        for field in line.split()[1:]:
            key, _, value = field.partition("=")
            if key == "rbytes":
                read += int(value)
            elif key == "wbytes":
                write += int(value)
    return read, write


def parse_blkio(text: str) -> tuple[int, int]:
    """cgroup v1 blkio.throttle.io_service_bytes (`8:0 Read 4096` per device, then `Total n`): read, written."""
    read = write = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue  # "Total 8192", the sum of every op
        if parts[1] == "Read":
            read += int(parts[2])
        elif parts[1] == "Write":
            write += int(parts[2])
    return read, write


def parse_net_dev(text: str) -> tuple[int, int]:
    """/proc/<pid>/net/dev: bytes received and sent on every interface but `lo` (as Docker counts)."""
    rx = tx = 0
    for line in text.splitlines()[2:]:
        name, _, counters = line.partition(":")
        fields = counters.split()
        if name.strip() == "lo" or len(fields) < 9:
            continue
        rx += int(fields[0])
        tx += int(fields[8])
    return rx, tx


def parse_memory_max(text: str, host_total: int) -> int:
    """memory.max ("max": no limit) or v1 memory.limit_in_bytes (a huge number): Docker shows the host's memory."""
    text = text.strip()
    if text == "max":
        return host_total
    limit = int(text)
    return min(limit, host_total) if host_total > 0 else limit


def host_memory() -> int:
    """The machine's memory in bytes (Docker's limit for a container without one)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


# --- where one container's files are -------------------------------------------------------------


@dataclass(frozen=True)
class CgroupFiles:
    """The files of one container. `net` None: the container shares the host's network (Docker reports none)."""

    version: int  # 1 or 2
    cpu: Path  # v2: <dir>/cpu.stat; v1: <cpuacct dir>/cpuacct.usage
    memory: Path  # the memory controller's directory of the container
    io: Path | None  # v2 io.stat, v1 blkio.throttle.io_service_bytes[_recursive]; None: not readable
    net: Path | None


def _v1_paths(cgroup_text: str) -> dict[str, str]:
    """The path of each v1 controller (`4:memory:/docker/<id>`), and "" -> the v2 path (`0::/...`)."""
    paths: dict[str, str] = {}
    for line in cgroup_text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(",") if parts[1] else [""]:
            paths[controller] = parts[2]
    return paths


def _candidates(container_id: str) -> list[str]:
    # cgroupfs driver, then the systemd driver.
    return [f"/docker/{container_id}", f"/system.slice/docker-{container_id}.scope"]


def _readable(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            f.read(1)
        return True
    except OSError:
        return False


def locate(container_id: str, pid: int | None, *, root: Path = CGROUP_ROOT, proc: Path = PROC) -> CgroupFiles | None:
    """The cgroup files of a running container, or None where they cannot be read (keep the stream).

    `pid` is the container's init process as the engine reports it (State.Pid); it is used only when
    /proc/<pid>/cgroup names this container (a remote engine's pid means nothing here).
    """
    own: dict[str, str] = {}
    net: Path | None = None
    if pid:
        try:
            text = (proc / str(pid) / "cgroup").read_text()
        except OSError:
            text = ""
        if container_id in text:
            own = _v1_paths(text)
            net = _net_file(pid, proc)
    v2 = [own[""]] if own.get("") else []
    if (root / "cgroup.controllers").is_file():  # a unified hierarchy at the root: cgroup v2
        for rel in [*v2, *_candidates(container_id)]:
            folder = root / rel.lstrip("/")
            if _readable(folder / "cpu.stat") and _readable(folder / "memory.current"):
                io = folder / "io.stat"
                return CgroupFiles(2, folder / "cpu.stat", folder, io if _readable(io) else None, net)
        return None
    paths = {c: [own[c]] if own.get(c) else [] for c in ("cpuacct", "memory", "blkio")}
    found: dict[str, Path] = {}
    for controller, wanted in (("cpuacct", "cpuacct.usage"), ("memory", "memory.usage_in_bytes")):
        for rel in [*paths[controller], *_candidates(container_id)]:
            folder = root / controller / rel.lstrip("/")
            if _readable(folder / wanted):
                found[controller] = folder
                break
        else:
            return None
    blkio = [root / "blkio" / rel.lstrip("/") / name for rel in [*paths["blkio"], *_candidates(container_id)]
             for name in _V1_BLKIO]  # fmt: skip
    io = next((path for path in blkio if _readable(path)), None)
    return CgroupFiles(1, found["cpuacct"] / "cpuacct.usage", found["memory"], io, net)


def _net_file(pid: int, proc: Path) -> Path | None:
    """/proc/<pid>/net/dev when the container has a network namespace of its own; None on the host's."""
    try:
        if os.readlink(proc / str(pid) / "ns" / "net") == os.readlink(proc / "self" / "ns" / "net"):
            return None
    except OSError:
        return None  # not ours to read: no figures rather than the host's
    return proc / str(pid) / "net" / "dev"


# --- one reading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    at_ns: int  # monotonic clock when the CPU counter was read
    cpu_ns: int  # the cgroup's CPU time so far
    memory_used: int
    memory_limit: int
    block_read: int
    block_write: int
    net_rx: int
    net_tx: int


def _text(path: Path) -> str:
    with open(path) as f:
        return f.read()


def read_files(files: CgroupFiles, host_total: int) -> Reading:
    """One reading; OSError when the container is gone (its cgroup removed)."""
    cpu_text = _text(files.cpu)
    at = time.monotonic_ns()
    if files.version == 2:
        cpu_ns = parse_flat_keyed(cpu_text).get("usage_usec", 0) * 1000
        usage = int(_text(files.memory / "memory.current"))
        cache = parse_flat_keyed(_text(files.memory / "memory.stat")).get("inactive_file", 0)
        limit = parse_memory_max(_text(files.memory / "memory.max"), host_total)
        read, write = parse_io_stat(_text(files.io)) if files.io else (0, 0)
    else:
        cpu_ns = int(cpu_text)
        usage = int(_text(files.memory / "memory.usage_in_bytes"))
        cache = parse_flat_keyed(_text(files.memory / "memory.stat")).get("total_inactive_file", 0)
        limit = parse_memory_max(_text(files.memory / "memory.limit_in_bytes"), host_total)
        read, write = parse_blkio(_text(files.io)) if files.io else (0, 0)
    rx = tx = 0
    if files.net is not None:
        with contextlib.suppress(OSError):
            rx, tx = parse_net_dev(_text(files.net))
    # Docker subtracts the cache only when it is smaller than the usage.
    used = usage - cache if cache < usage else usage
    return Reading(at, cpu_ns, used, limit, read, write, rx, tx)


def cpu_percent(before: Reading | None, after: Reading) -> float:
    """CPU time over wall time between two readings, in percent of one core (as `docker stats`)."""
    if before is None:
        return 0.0
    wall = after.at_ns - before.at_ns
    used = after.cpu_ns - before.cpu_ns
    return round(100.0 * used / wall, 2) if wall > 0 and used > 0 else 0.0


# --- the poll -------------------------------------------------------------------------------


@dataclass
class _Watched:
    name: str
    files: CgroupFiles
    stop: threading.Event
    last: Reading | None = None


class CgroupPoll:
    """One task for all watched containers: every `interval_s`, one worker thread reads every file."""

    def __init__(
        self,
        publish: Callable[[ContainerStats], None],
        gpu_memory: Callable[[str], int | None] = lambda _cid: None,
        interval_s: float = POLL_S,
    ) -> None:
        self.publish = publish
        self.gpu_memory = gpu_memory
        self.interval_s = interval_s
        self.host_total = host_memory()
        self._watched: dict[str, _Watched] = {}
        self._task: asyncio.Task[None] | None = None
        self.ticks = 0

    def watching(self, container_id: str) -> bool:
        return container_id in self._watched

    def add(self, name: str, container_id: str, files: CgroupFiles, stop: threading.Event) -> None:
        """Watch a container until `stop` is set, its cgroup goes away, or `remove`. Call on the loop."""
        self._watched[container_id] = _Watched(name, files, stop)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="container stats poll")

    def remove(self, container_id: str) -> None:
        self._watched.pop(container_id, None)

    async def close(self) -> None:
        self._watched.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._watched:
            started = loop.time()
            await self.poll_once()
            await asyncio.sleep(max(0.0, self.interval_s - (loop.time() - started)))

    async def poll_once(self) -> list[ContainerStats]:
        watched = [(cid, w) for cid, w in self._watched.items() if not w.stop.is_set()]
        for cid in [cid for cid, w in self._watched.items() if w.stop.is_set()]:
            del self._watched[cid]
        readings = await asyncio.to_thread(self._read_all, watched)
        self.ticks += 1
        samples = []
        for cid, w in watched:
            reading = readings.get(cid)
            if self._watched.get(cid) is not w:
                continue  # removed (or replaced) while the files were read
            if reading is None:
                del self._watched[cid]  # its cgroup is gone: the container stopped
                continue
            percent, w.last = cpu_percent(w.last, reading), reading
            sample = ContainerStats(
                name=w.name,
                container_id=cid,
                cpu_percent=percent,
                memory_used=reading.memory_used,
                memory_limit=reading.memory_limit,
                net_rx=reading.net_rx,
                net_tx=reading.net_tx,
                block_read=reading.block_read,
                block_write=reading.block_write,
                gpu_memory=self.gpu_memory(cid),
            )
            samples.append(sample)
            self.publish(sample)
        return samples

    def _read_all(self, watched: list[tuple[str, _Watched]]) -> dict[str, Reading | None]:
        readings: dict[str, Reading | None] = {}
        for cid, w in watched:
            try:
                readings[cid] = read_files(w.files, self.host_total)
            except (OSError, ValueError):
                readings[cid] = None
        return readings
