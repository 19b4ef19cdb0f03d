"""Container CPU, memory, block and network figures from the kernel's cgroup files: finding and parsing them.

The poll that reads them for all containers at once is in cgroup_stats.py.

A streaming `docker stats` reader per container costs a thread, an HTTP stream and a JSON parse every
second each (10 containers: a quarter of a core). Where the engine runs on this machine, the same
figures are in the kernel's files; one tick reads them all in one worker thread, each from a
descriptor kept open while the container is watched (OpenFiles). The figures match `docker stats`:
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

import contextlib
import errno
import os
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from aiui_tui.services.kernel_files import close_fds, read_from_start, read_one_record

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC = Path("/proc")
_V2_MEMORY = ("memory.current", "memory.stat", "memory.max")
_V1_MEMORY = ("memory.usage_in_bytes", "memory.stat", "memory.limit_in_bytes")
_V1_BLKIO = ("blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_service_bytes")


# --- parsers (file text -> numbers) ----------------------------------------------------------


def stat_value(data: bytes, key: bytes) -> int:
    """One value of a `key value` file (cpu.stat, memory.stat); 0 when the key is absent."""
    needle = key + b" "
    if data.startswith(needle):
        at = 0
    else:
        at = data.find(b"\n" + needle) + 1
        if at == 0:
            return 0
    end = data.find(b"\n", at)
    return int(data[at + len(needle) : end if end >= 0 else len(data)])


def parse_io_stat(data: bytes) -> tuple[int, int]:
    """cgroup v2 io.stat (`8:0 rbytes=1 wbytes=2 rios=...` per device): bytes read and written, all devices."""
    read = write = 0
    for line in data.splitlines():
        for pair in line.split()[1:]:
            key, _, value = pair.partition(b"=")
            if key == b"rbytes":
                read += int(value)
            elif key == b"wbytes":
                write += int(value)
    return read, write


def parse_blkio(data: bytes) -> tuple[int, int]:
    """cgroup v1 blkio.throttle.io_service_bytes (`8:0 Read 4096` per device, then `Total n`): read, written."""
    read = write = 0
    for line in data.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue  # "Total 8192", the sum of every op
        if parts[1] == b"Read":
            read += int(parts[2])
        elif parts[1] == b"Write":
            write += int(parts[2])
    return read, write


def parse_net_dev(data: bytes) -> tuple[int, int]:
    """/proc/<pid>/net/dev: bytes received and sent on every interface but `lo` (as Docker counts)."""
    rx = tx = 0
    for line in data.splitlines()[2:]:
        name, _, counters = line.partition(b":")
        fields = counters.split()
        if name.strip() == b"lo" or len(fields) < 9:
            continue
        rx += int(fields[0])
        tx += int(fields[8])
    return rx, tx


def parse_memory_max(data: bytes, host_total: int) -> int:
    """memory.max ("max": no limit) or v1 memory.limit_in_bytes (a huge number): Docker shows the host's memory."""
    data = data.strip()
    if data == b"max":
        return host_total
    limit = int(data)
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
    # The paths as strings, made once: joining Paths every tick cost as much as reading the files.
    paths: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = _V2_MEMORY if self.version == 2 else _V1_MEMORY
        memory = tuple(str(self.memory / name) for name in names)
        object.__setattr__(self, "paths", (str(self.cpu), *memory, str(self.io or ""), str(self.net or "")))


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
    blkio_file = next((path for path in blkio if _readable(path)), None)
    return CgroupFiles(1, found["cpuacct"] / "cpuacct.usage", found["memory"], blkio_file, net)


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


class OpenFiles:
    """One container's cgroup files kept open (4 to 6 descriptors: block I/O where readable, the
    network with a namespace of its own), each read again from the start every tick: open, read and
    close of each path every second cost three quarters of the poll's CPU (a lookup of a long sysfs
    path each). Opened at the first `read`, closed by `close` when the container is no longer watched;
    where the process has no descriptors to spare (EMFILE, ENFILE), read by path as before. `read`
    (the ticker's thread) and `close` (the loop) may meet: a lock keeps a descriptor from being
    closed, and its number reused, during a read."""

    def __init__(self, files: CgroupFiles) -> None:
        self.files = files
        self._fds: list[int] | None = None  # in `files.paths` order; -1: no such file (no io, no own network)
        self._finalizer: weakref.finalize[[list[int]], OpenFiles] | None = None  # closes them if never closed
        self.kept = True  # False: no descriptors to spare, each file opened at each read
        self._closed = False
        self._lock = threading.Lock()

    def read(self, host_total: int) -> Reading:
        """One reading; OSError when the container is gone (its cgroup removed, not made again at its
        path: a kept file reads ENODEV, opening it again ENOENT) or this was closed."""
        with self._lock:
            if self._closed:
                raise OSError(errno.EBADF, "closed")
            if self._fds is not None:
                try:
                    return _read_fds(self.files.version, self._fds, host_total)
                except OSError:  # removed (ENODEV); a restart may have made it again at the same path
                    self._forget_fds()
            if self.kept:
                try:
                    self._fds = self._open()
                    self._finalizer = weakref.finalize(self, close_fds, self._fds)
                except OSError as exc:
                    if exc.errno not in (errno.EMFILE, errno.ENFILE):
                        raise
                    self.kept = False
            if self._fds is None:
                return _read_paths(self.files, host_total)
            return _read_fds(self.files.version, self._fds, host_total)

    def _open(self) -> list[int]:
        fds: list[int] = []
        try:
            for index, path in enumerate(self.files.paths):
                if not path:
                    fds.append(-1)
                    continue
                try:
                    fds.append(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
                except OSError as exc:
                    if index < _NET or exc.errno in (errno.EMFILE, errno.ENFILE):
                        raise
                    fds.append(-1)  # the container's process is gone: its cgroup read tells
        except BaseException:
            close_fds(fds)
            raise
        return fds

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._forget_fds()

    def _forget_fds(self) -> None:
        self._fds = None
        if self._finalizer is not None:
            self._finalizer()  # closes them, once
            self._finalizer = None


_NET = 5  # the index of the network file in `CgroupFiles.paths`


def read_files(files: CgroupFiles, host_total: int) -> Reading:
    """One reading of the files by path (none kept open); OSError when the container is gone."""
    return _read_paths(files, host_total)


def _read_fds(version: int, fds: list[int], host_total: int) -> Reading:
    cpu_fd, usage_fd, stat_fd, limit_fd, io_fd, net_fd = fds
    cpu = read_one_record(cpu_fd)
    at = time.monotonic_ns()
    usage, stat, limit = read_one_record(usage_fd), read_one_record(stat_fd), read_one_record(limit_fd)
    io = read_one_record(io_fd) if io_fd >= 0 else b""
    net = None
    if net_fd >= 0:
        with contextlib.suppress(OSError):
            net = read_from_start(net_fd)
    return _reading(version, at, cpu, usage, stat, limit, io, net, host_total)


def _read_path(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return read_from_start(fd)
    finally:
        os.close(fd)


def _read_paths(files: CgroupFiles, host_total: int) -> Reading:
    cpu_path, usage_path, stat_path, limit_path, io_path, net_path = files.paths
    cpu = _read_path(cpu_path)
    at = time.monotonic_ns()
    usage, stat, limit = _read_path(usage_path), _read_path(stat_path), _read_path(limit_path)
    io = _read_path(io_path) if io_path else b""
    net = None
    if net_path:
        with contextlib.suppress(OSError):
            net = _read_path(net_path)
    return _reading(files.version, at, cpu, usage, stat, limit, io, net, host_total)


def _reading(
    version: int, at: int, cpu: bytes, usage: bytes, stat: bytes, limit: bytes, io: bytes, net: bytes | None,
    host_total: int,
) -> Reading:  # fmt: skip
    if version == 2:
        cpu_ns = stat_value(cpu, b"usage_usec") * 1000
        cache = stat_value(stat, b"inactive_file")
        read, write = parse_io_stat(io)
    else:
        cpu_ns = int(cpu)
        cache = stat_value(stat, b"total_inactive_file")
        read, write = parse_blkio(io)
    rx, tx = parse_net_dev(net) if net is not None else (0, 0)
    used_total = int(usage)
    # Docker subtracts the cache only when it is smaller than the usage.
    used = used_total - cache if cache < used_total else used_total
    return Reading(at, cpu_ns, used, parse_memory_max(limit, host_total), read, write, rx, tx)


def cpu_percent(before: Reading | None, after: Reading) -> float:
    """CPU time over wall time between two readings, in percent of one core (as `docker stats`)."""
    if before is None:
        return 0.0
    wall = after.at_ns - before.at_ns
    used = after.cpu_ns - before.cpu_ns
    return round(100.0 * used / wall, 2) if wall > 0 and used > 0 else 0.0
