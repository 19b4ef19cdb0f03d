"""Container figures from the cgroup files: the parsers on real file text, and one poll for all
containers against the real Docker engine (the stream only where the files cannot be read)."""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import subprocess
import threading
import time
from pathlib import Path

import pytest

from aiui_tui.core.apps import READY
from aiui_tui.core.events import ContainerStats
from aiui_tui.services.apps.cgroup_files import (
    CgroupFiles,
    OpenFiles,
    Reading,
    cpu_percent,
    locate,
    parse_blkio,
    parse_io_stat,
    parse_memory_max,
    parse_net_dev,
    read_files,
    stat_value,
)
from aiui_tui.services.apps.cgroup_stats import CgroupPoll
from tests.apps.test_docker_apps import free_port, manifest, open_service

CID = "c" * 64
GiB = 1 << 30

# --- file text: v1 copied from this machine's /sys/fs/cgroup (a busybox container holding 32 MiB) ---

V1_MEMORY_STAT = """cache 1986560|rss 33783808|rss_huge 0|shmem 0|mapped_file 0|dirty 1982464|writeback 0|
workingset_refault_anon 0|workingset_refault_file 1|swap 0|swapcached 0|pgpgin 50102|pgpgout 41814|
pgfault 50569|pgmajfault 0|inactive_anon 33714176|active_anon 4096|inactive_file 1982464|active_file 4096|
unevictable 0|hierarchical_memory_limit 9223372036854771712|hierarchical_memsw_limit 9223372036854771712|
total_cache 1986560|total_rss 33783808|total_rss_huge 0|total_shmem 0|total_mapped_file 0|total_dirty 1982464|
total_writeback 0|total_workingset_refault_anon 0|total_workingset_refault_file 1|total_swap 0|
total_swapcached 0|total_pgpgin 50102|total_pgpgout 41814|total_pgfault 50569|total_pgmajfault 0|
total_inactive_anon 33714176|total_active_anon 4096|total_inactive_file 1982464|total_active_file 4096|
total_unevictable 0""".replace("\n", "").replace("|", "\n")  # memory/docker/<id>/memory.stat
V1_USAGE = "36569088\n"  # memory.usage_in_bytes
V1_LIMIT = "9223372036854771712\n"  # memory.limit_in_bytes: no limit set
V1_CPUACCT = "314930316\n"  # cpuacct/docker/<id>/cpuacct.usage (ns)
# blkio.throttle.io_service_bytes in the kernel documentation's format (this machine's read "Total 0").
V1_BLKIO = "8:16 Read 4096\n8:16 Write 8192\n8:16 Sync 8192\n8:16 Async 4096\n8:16 Discard 0\n8:16 Total 12288\n"
V1_BLKIO += "8:0 Read 100\n8:0 Write 0\n8:0 Total 100\nTotal 12388\n"

# --- v2: cpu.stat copied from this machine (/sys/fs/cgroup/unified/docker/<id>/cpu.stat); the
# memory and io files (no v2 memory controller here) written in the kernel documentation's format.
V2_CPU_STAT = "usage_usec 285862\nuser_usec 152996\nsystem_usec 132865\nnice_usec 0\n"
V2_MEMORY_STAT = (
    "anon 33554432\nfile 4194304\nkernel 262144\nkernel_stack 16384\npagetables 98304\nsock 0\nshmem 0\n"
    "file_mapped 0\nfile_dirty 0\nfile_writeback 0\nanon_thp 0\ninactive_anon 33550336\nactive_anon 4096\n"
    "inactive_file 3145728\nactive_file 1048576\nunevictable 0\nslab_reclaimable 65536\nslab 131072\n"
    "pgfault 9000\npgmajfault 0\n"
)
V2_IO_STAT = (
    "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n"
    "8:0 rbytes=90430464 wbytes=299008000 rios=8950 wios=1252 dbytes=50331648 dios=3021\n"
)
NET_DEV = "\n".join(  # /proc/<pid>/net/dev
    (
        "Inter-|   Receive                                                |  Transmit",
        " face |bytes    packets errs drop fifo frame compressed multicast"
        "|bytes    packets errs drop fifo colls carrier compressed",
        "    lo: 14987672569  730439    0    0    0     0          0         0"
        " 14987672569  730439    0    0    0     0       0          0",
        "  eth0: 1089002403   35738    0    0    0     0          0         0"
        "  2670195   22676    0    0    0     0       0          0",
        "  eth1:     100       1    0    0    0     0          0         0"
        "      50       1    0    0    0     0       0          0",
    )
)


def test_v1_text():
    stat = V1_MEMORY_STAT.encode()
    assert stat_value(stat, b"total_inactive_file") == 1982464 and stat_value(stat, b"inactive_file") == 1982464
    assert stat_value(stat, b"cache") == 1986560 and stat_value(stat, b"total_unevictable") == 0  # first, last
    assert stat_value(stat, b"no_such_key") == 0
    assert parse_memory_max(V1_LIMIT.encode(), 24 * GiB) == 24 * GiB  # no limit: the host's memory, as Docker shows
    assert parse_memory_max(b"1073741824\n", 24 * GiB) == GiB
    assert parse_blkio(V1_BLKIO.encode()) == (4196, 8192)


def test_v2_text():
    assert stat_value(V2_CPU_STAT.encode(), b"usage_usec") == 285862
    assert stat_value(V2_MEMORY_STAT.encode(), b"inactive_file") == 3145728
    assert parse_io_stat(V2_IO_STAT.encode()) == (1459200 + 90430464, 314773504 + 299008000)
    assert parse_memory_max(b"max\n", 24 * GiB) == 24 * GiB
    assert parse_net_dev(NET_DEV.encode()) == (1089002403 + 100, 2670195 + 50)  # `lo` left out, as Docker counts


def write(folder, files: dict[str, str]):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)


def test_a_v2_tree_is_found_and_read_as_docker_stats_shows_it(tmp_path):
    root = tmp_path / "cgroup"
    write(root, {"cgroup.controllers": "cpu io memory pids\n"})
    folder = root / "system.slice" / f"docker-{CID}.scope"  # the systemd driver
    files = {"cpu.stat": V2_CPU_STAT, "memory.current": "40000000\n", "memory.stat": V2_MEMORY_STAT}
    write(folder, {**files, "memory.max": "max\n", "io.stat": V2_IO_STAT})
    found = locate(CID, None, root=root, proc=tmp_path / "proc")
    assert found == CgroupFiles(2, folder / "cpu.stat", folder, folder / "io.stat", None)
    reading = read_files(found, 24 * GiB)
    assert reading.cpu_ns == 285862000
    assert reading.memory_used == 40000000 - 3145728 and reading.memory_limit == 24 * GiB
    assert (reading.block_read, reading.block_write) == (91889664, 613781504)


def test_a_v1_tree_is_found_through_the_process_cgroup_file(tmp_path):
    root, proc = tmp_path / "cgroup", tmp_path / "proc"
    rel = f"docker/{CID}"
    write(root / "cpuacct" / rel, {"cpuacct.usage": V1_CPUACCT})
    write(root / "memory" / rel, {"memory.usage_in_bytes": V1_USAGE, "memory.limit_in_bytes": V1_LIMIT})
    write(root / "memory" / rel, {"memory.stat": V1_MEMORY_STAT})
    write(root / "blkio" / rel, {"blkio.throttle.io_service_bytes": V1_BLKIO})
    write(proc / "42", {"cgroup": f"4:memory:/{rel}\n2:cpu,cpuacct:/{rel}\n7:blkio:/{rel}\n0::/{rel}\n"})
    found = locate(CID, 42, root=root, proc=proc)
    assert found is not None and found.version == 1
    assert found.io == root / "blkio" / rel / "blkio.throttle.io_service_bytes"
    reading = read_files(found, 24 * GiB)
    assert reading.cpu_ns == 314930316
    assert reading.memory_used == 36569088 - 1982464  # what `docker stats` showed: 32.98 MiB
    assert reading.memory_limit == 24 * GiB and (reading.block_read, reading.block_write) == (4196, 8192)


def test_no_files_no_cgroup(tmp_path):
    assert locate(CID, None, root=tmp_path) is None
    write(tmp_path / "memory" / "docker" / CID, {"memory.usage_in_bytes": "1\n"})  # the CPU file is missing
    assert locate(CID, None, root=tmp_path) is None


def test_cpu_percent_is_cpu_time_over_wall_time():
    before = Reading(0, 0, 0, 0, 0, 0, 0, 0)
    after = Reading(2_000_000_000, 3_000_000_000, 0, 0, 0, 0, 0, 0)  # 3 s of CPU in 2 s: 1.5 cores
    assert cpu_percent(before, after) == 150.0
    assert cpu_percent(None, after) == 0.0  # the first reading has nothing to compare with


def open_fds() -> int:
    gc.collect()  # garbage left by earlier tests that holds descriptors is closed now, not between two counts
    return len(os.listdir("/proc/self/fd"))


async def test_each_watched_container_keeps_its_files_open_until_it_is_no_longer_watched(tmp_path):
    folders = []
    for name in ("one", "two"):
        folder = tmp_path / name
        write(folder, {"memory.usage_in_bytes": V1_USAGE, "memory.limit_in_bytes": V1_LIMIT})
        write(folder, {"memory.stat": V1_MEMORY_STAT, "cpuacct.usage": V1_CPUACCT})
        write(folder, {"blkio.throttle.io_service_bytes": V1_BLKIO})
        folders.append(folder)
    seen: list[ContainerStats] = []
    poll = CgroupPoll(seen.append, interval_s=3600)
    before = open_fds()
    for name, folder in zip(("one", "two"), folders, strict=True):
        io = folder / "blkio.throttle.io_service_bytes"
        poll.add(name, name * 32, CgroupFiles(1, folder / "cpuacct.usage", folder, io, None), threading.Event())
    try:
        assert open_fds() == before  # opened by the first look, on its thread
        first = await poll.poll_once()
        assert open_fds() == before + 10  # cpu, usage, stat, limit, block I/O: each kept open
        (folders[0] / "memory.usage_in_bytes").write_text("40000000\n")  # the same file, new figures
        second = await poll.poll_once()
        assert [s.memory_used for s in first] == [36569088 - 1982464] * 2
        assert [s.memory_used for s in second] == [40000000 - 1982464, 36569088 - 1982464]  # read afresh
        assert open_fds() == before + 10  # nothing opened again
        poll.remove("two" * 32)
        assert open_fds() == before + 5
    finally:
        await poll.close()
    assert open_fds() == before


async def test_without_descriptors_to_spare_a_container_is_read_by_path(tmp_path):
    folder = tmp_path / "one"
    write(folder, {"memory.usage_in_bytes": V1_USAGE, "memory.limit_in_bytes": V1_LIMIT})
    write(folder, {"memory.stat": V1_MEMORY_STAT, "cpuacct.usage": V1_CPUACCT})
    seen: list[ContainerStats] = []
    poll = CgroupPoll(seen.append, interval_s=3600)
    poll.add("one", CID, CgroupFiles(1, folder / "cpuacct.usage", folder, None, None), threading.Event())
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    used = {int(fd) for fd in os.listdir("/proc/self/fd")}
    limit = next(n for n in range(len(used), soft) if n - len([fd for fd in used if fd < n]) == 2)
    before = open_fds()
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))  # 2 descriptors to spare: 4 cannot be kept
    try:
        [sample] = await poll.poll_once()
        assert open_fds() == before  # none kept
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        await poll.close()
    assert sample.memory_used == 36569088 - 1982464  # read all the same, one file at a time


def test_kept_files_never_closed_are_closed_when_dropped(tmp_path):
    folder = tmp_path / "one"
    write(folder, {"memory.usage_in_bytes": V1_USAGE, "memory.limit_in_bytes": V1_LIMIT})
    write(folder, {"memory.stat": V1_MEMORY_STAT, "cpuacct.usage": V1_CPUACCT})
    kept = OpenFiles(CgroupFiles(1, folder / "cpuacct.usage", folder, None, None))
    before = open_fds()
    assert kept.read(GiB).memory_used == 36569088 - 1982464
    assert open_fds() == before + 4
    del kept
    gc.collect()
    assert open_fds() == before


def make_cgroup(name: str) -> list[Path]:
    """A real cgroup (v1: cpuacct and memory) of our own; skips where it cannot be made (not root, v2)."""
    root = Path("/sys/fs/cgroup")
    if os.geteuid() != 0 or (root / "cgroup.controllers").exists():
        pytest.skip("a cgroup v1 of our own needs root (this host: v2)")
    made = []
    for controller in ("cpuacct", "memory"):
        try:
            (root / controller / name).mkdir()
        except OSError as exc:
            for folder in made:
                folder.rmdir()
            pytest.skip(f"cannot make a cgroup here: {exc}")
        made.append(root / controller / name)
    return made


async def test_a_real_cgroup_is_read_afresh_from_its_open_files_and_dropped_when_removed():
    name = f"aiui-test-{os.getpid()}-{time.monotonic_ns()}"
    made = make_cgroup(name)
    # Busy, and 1 MiB of memory taken once it is in the cgroup (memory is charged where it is taken).
    grow = "read go; s=x; while [ ${#s} -lt 1048576 ]; do s=$s$s; done; while :; do :; done"
    busy = subprocess.Popen(["sh", "-c", grow], stdin=subprocess.PIPE)
    try:
        for folder in made:
            (folder / "cgroup.procs").write_text(f"{busy.pid}\n")
        busy.stdin.write(b"go\n")
        busy.stdin.close()
        files = locate(name, busy.pid)  # found through the process's /proc/<pid>/cgroup
        assert files is not None and files.cpu == made[0] / "cpuacct.usage"
        seen: list[ContainerStats] = []
        poll = CgroupPoll(seen.append, interval_s=3600)
        poll.add("busy", name, files, threading.Event())
        try:
            await poll.poll_once()
            deadline = time.monotonic() + 20
            while not (seen[-1].cpu_percent > 0 and seen[-1].memory_used > 1 << 20):  # the kernel's new figures
                assert time.monotonic() < deadline, seen[-1]
                await poll.poll_once()
            fds = open_fds()
            busy.kill()
            busy.wait()
            for folder in made:
                folder.rmdir()  # as the engine does when a container stops
            assert await poll.poll_once() == [] and not poll.watching(name)  # ENODEV from the kept files
            assert open_fds() == fds - len([path for path in files.paths if path])  # its files closed
        finally:
            await poll.close()
    finally:
        busy.kill()
        busy.wait()
        for folder in made:
            if folder.exists():
                folder.rmdir()


async def test_a_cgroup_made_again_at_its_path_is_read_on_from_new_descriptors():
    """As a container restarted under the same id: its cgroup is removed and made again at the same path."""
    name = f"aiui-test-{os.getpid()}-{time.monotonic_ns()}"
    made = make_cgroup(name)
    sleeper = subprocess.Popen(["sleep", "60"])
    seen: list[ContainerStats] = []
    poll = CgroupPoll(seen.append, interval_s=3600)
    try:
        for folder in made:
            (folder / "cgroup.procs").write_text(f"{sleeper.pid}\n")
        files = locate(name, sleeper.pid)
        assert files is not None
        poll.add("again", name, files, threading.Event())
        await poll.poll_once()
        sleeper.kill()
        sleeper.wait()
        for folder in made:
            folder.rmdir()
            folder.mkdir()  # made again: the kept descriptors read ENODEV, the paths are there
        fds = open_fds()
        assert [s.name for s in await poll.poll_once()] == ["again"] and poll.watching(name)
        assert open_fds() == fds  # the old ones closed, as many new ones kept
    finally:
        await poll.close()
        sleeper.kill()
        sleeper.wait()
        for folder in made:
            if folder.exists():
                folder.rmdir()


# --- against the real engine ----------------------------------------------------------------------

BUSY = '["sh", "-c", "httpd -p 127.0.0.1:{port} -h /www; while :; do :; done"]'
# A shell variable doubled to 32 MiB: anonymous memory the container really holds.
HOLD = '["sh", "-c", "httpd -p 127.0.0.1:{port} -h /www; s=x; while [ ${#s} -lt 33554432 ]; do s=$s$s; done; while :; do sleep 1; done"]'  # noqa: E501


async def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def stream_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("stats ")]


@pytest.mark.docker
async def test_one_poll_reads_cpu_and_memory_of_every_container(layout, busybox_image, cleanup, docker_client):
    for name, command in (("busy", BUSY), ("holder", HOLD)):
        (layout.user_apps_dir / f"{name}.toml").write_text(manifest(name, busybox_image, free_port(), command))
    service, events = await open_service(layout)
    try:
        started = await asyncio.gather(service.start_app("busy"), service.start_app("holder"))
        assert [s.state for s in started] == [READY, READY]
        busy, holder = service.status("busy").container_id, service.status("holder").container_id
        await wait_for(lambda: service.stats_source(busy) == "cgroup" and service.stats_source(holder) == "cgroup")
        assert not {"stats busy", "stats holder"} & set(stream_threads())  # no Docker stats stream: the poll reads both
        hot = await events.wait(lambda e: isinstance(e, ContainerStats) and e.name == "busy" and e.cpu_percent > 30)
        assert hot.memory_limit > 0
        held = await events.wait(
            lambda e: isinstance(e, ContainerStats) and e.name == "holder" and e.memory_used > 32 * (1 << 20)
        )
        assert held.cpu_percent < 50
        # One Docker `stats --no-stream` agrees on memory (same formula, taken a moment apart).
        raw = await asyncio.to_thread(docker_client.api.stats, holder, stream=False, one_shot=True)
        memory = raw["memory_stats"]
        cache = memory["stats"].get("total_inactive_file", memory["stats"].get("inactive_file", 0))
        docker_used = memory["usage"] - cache
        latest = [e for e in events.of(ContainerStats) if e.name == "holder"][-1]
        assert abs(latest.memory_used - docker_used) < 4 * (1 << 20)
        assert latest.memory_limit == memory["limit"]
        ticks = service.stats_poll.ticks
        await service.stop_app("busy")
        assert not service.stats_poll.watching(busy) and service.stats_source(busy) is None
        await wait_for(lambda: service.stats_poll.ticks > ticks)
        assert service.stats_poll.watching(holder)  # the other one still is
    finally:
        await service.close()


@pytest.mark.docker
async def test_unreadable_cgroups_fall_back_to_the_docker_stream(layout, busybox_image, cleanup, tmp_path):
    from aiui_tui.bus import Bus
    from aiui_tui.config import Config
    from aiui_tui.services.apps import AppService
    from tests.apps.test_docker_apps import Events

    (layout.user_apps_dir / "stand-in.toml").write_text(manifest("stand-in", busybox_image, free_port()))
    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    events = Events(bus)
    service = AppService(layout, Config(), bus, cgroup_root=tmp_path / "no-cgroups")  # as a remote engine is
    await service.start(supervise=True)
    try:
        await service.start_app("stand-in")
        cid = service.status("stand-in").container_id
        await wait_for(lambda: service.stats_source(cid) == "stream")
        stats = await events.wait(lambda e: isinstance(e, ContainerStats) and e.name == "stand-in")
        assert stats.memory_used > 0 and stats.memory_limit > 0
        assert "stats stand-in" in stream_threads() and not service.stats_poll.watching(cid)
    finally:
        await service.close()


@pytest.mark.docker
async def test_a_container_killed_from_outside_stops_being_polled(layout, busybox_image, cleanup, docker_client):
    (layout.user_apps_dir / "stand-in.toml").write_text(manifest("stand-in", busybox_image, free_port()))
    service, _ = await open_service(layout)
    try:
        await service.start_app("stand-in")
        cid = service.status("stand-in").container_id
        await wait_for(lambda: service.stats_poll.watching(cid))
        await asyncio.to_thread(docker_client.containers.get(cid).kill)
        await wait_for(lambda: not service.stats_poll.watching(cid))
        assert service.stats_source(cid) is None
    finally:
        await service.close()


@pytest.mark.docker
def test_network_figures_come_from_the_container_namespace_and_none_on_the_host_network(busybox_image, docker_client):
    from aiui_tui.services.apps.cgroup_files import host_memory

    # This engine has no bridge: a container with a network namespace of its own has "none" (only lo).
    own = docker_client.containers.run(busybox_image, ["sleep", "60"], detach=True, network_mode="none")
    host = docker_client.containers.run(busybox_image, ["sleep", "60"], detach=True, network_mode="host")
    try:
        found = {}
        for container in (own, host):
            container.reload()
            found[container.id] = locate(container.id, container.attrs["State"]["Pid"])
        assert found[host.id] is not None and found[host.id].net is None  # Docker reports none either
        mine = found[own.id]
        assert mine is not None and mine.net == Path(f"/proc/{own.attrs['State']['Pid']}/net/dev")
        reading = read_files(mine, host_memory())
        assert (reading.net_rx, reading.net_tx) == (0, 0) and reading.memory_used > 0  # only lo, left out
        # A pid that is not the container's (a remote engine's pid means nothing here) is not used: the
        # cgroup is still found by the driver's path, the network figures are not taken from pid 1's.
        other = locate(own.id, 1)
        assert other is not None and other.memory == mine.memory and other.net is None
    finally:
        own.remove(force=True)
        host.remove(force=True)
