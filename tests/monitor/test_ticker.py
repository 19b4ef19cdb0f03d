"""The services' shared ticker: one worker-thread call a tick for every periodic look."""

from __future__ import annotations

import asyncio
import itertools
import threading

from aiui_tui.bus import Bus
from aiui_tui.core.events import ContainerStats, SystemSample
from aiui_tui.services import folder_watch
from aiui_tui.services.apps.cgroup_files import CgroupFiles
from aiui_tui.services.apps.cgroup_stats import CgroupPoll
from aiui_tui.services.monitor import MonitorService
from aiui_tui.services.ticker import Ticker
from tests.fake_nvml import FakeNvml

CID = "c" * 64


async def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def cgroup_v1(folder):
    folder.mkdir(parents=True)
    for name, text in {
        "cpuacct.usage": "1000\n",
        "memory.usage_in_bytes": "4096\n",
        "memory.limit_in_bytes": "9223372036854771712\n",
        "memory.stat": "total_inactive_file 1024\n",
    }.items():
        (folder / name).write_text(text)
    return CgroupFiles(1, folder / "cpuacct.usage", folder, None, None)


async def test_one_thread_call_a_tick_serves_the_monitor_and_the_containers(tmp_path):
    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    seen: list = []
    bus.subscribe(seen.append)
    ticker = Ticker(3600)  # ticks driven by hand below
    monitor = MonitorService(bus, {"models": tmp_path}, nvml=FakeNvml([]), ticker=ticker)
    poll = CgroupPoll(bus.publish, ticker=ticker)
    threads: set[str] = set()
    sample, look = monitor._sample, poll._look
    monitor._sample = lambda: (threads.add(threading.current_thread().name), sample())[1]
    poll._look = lambda: (threads.add(threading.current_thread().name), look())[1]
    try:
        await monitor.start()
        poll.add("one", CID, cgroup_v1(tmp_path / "cg"), threading.Event())
        await wait_for(lambda: ticker.thread_calls == 1 and seen)  # the monitor's first sample, at once
        seen.clear()
        threads.clear()
        await ticker.tick_now()
        assert ticker.thread_calls == 2  # one call...
        assert [type(e) for e in seen if not hasattr(e, "gpus")] == [SystemSample, ContainerStats]  # ...for both
        assert len(threads) == 1 and threading.current_thread().name not in threads  # on one worker thread
        stats = next(e for e in seen if isinstance(e, ContainerStats))
        assert stats.name == "one" and stats.memory_used == 4096 - 1024
    finally:
        await monitor.close()
        await poll.close()
        await ticker.close()


async def test_a_slower_job_looks_every_nth_tick_and_a_removed_one_no_more(tmp_path):
    ticker = Ticker(0.01)
    fast: list[int] = []
    slow: list[int] = []
    stop_fast = ticker.add("fast", lambda: None, lambda _: fast.append(ticker.ticks))
    stop_slow = ticker.add("slow", lambda: None, lambda _: slow.append(ticker.ticks), every_s=0.03)
    try:
        await wait_for(lambda: len(slow) >= 3)
        assert slow and all(tick % 3 == 0 for tick in slow)
        assert fast[: fast.index(slow[0]) + 1] == list(range(1, slow[0] + 1))  # the fast one every tick
        stop_slow()
        count, ticks = len(slow), len(fast)
        await wait_for(lambda: len(fast) >= ticks + 4)
        assert len(slow) == count
        stop_fast()
        await wait_for(lambda: ticker._task.done())  # nothing to look at: the ticker's task ends
    finally:
        await ticker.close()


async def test_a_job_added_to_a_running_ticker_can_have_its_first_look_at_once():
    ticker = Ticker(3600)
    looked: list[str] = []
    ticker.add("old", lambda: "old", looked.append, first_now=True)
    await wait_for(lambda: looked == ["old"])
    ticker.add("new", lambda: "new", looked.append, first_now=True)  # the ticker sleeps for an hour
    await wait_for(lambda: looked == ["old", "new"])
    assert ticker.thread_calls == 2 and ticker.ticks == 0
    await ticker.close()


async def test_a_folder_watch_on_the_ticker_looks_in_its_call_and_reacts_to_a_change(tmp_path):
    target = tmp_path / "a.toml"
    target.write_text("one")
    ticker = Ticker(3600)
    changes: list[str] = []
    gate = asyncio.Event()

    async def on_change() -> None:
        changes.append(target.read_text())
        await gate.wait()

    watch = asyncio.create_task(
        folder_watch.poll(lambda: folder_watch.stat_of(target), on_change, what="test", every_s=3600, ticker=ticker)
    )
    try:
        await wait_for(lambda: ticker._jobs)
        await ticker.tick_now()
        assert changes == [] and ticker.thread_calls == 1  # nothing changed
        target.write_text("two!")
        await ticker.tick_now()
        await wait_for(lambda: changes == ["two!"])
        target.write_text("three")  # changed again while the reaction still runs...
        await ticker.tick_now()
        await asyncio.sleep(0)
        assert changes == ["two!"]
        gate.set()
        await asyncio.sleep(0)  # the reaction ends
        await ticker.tick_now()  # ...seen at the next look
        await wait_for(lambda: changes == ["two!", "three"])
    finally:
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
    assert not ticker._jobs  # the cancelled watch left the ticker
    await ticker.close()


def test_a_folder_look_stats_each_named_file_in_the_folder_and_sees_each_kind_of_change(tmp_path):
    folder = tmp_path / "apps"
    assert folder_watch.stat_names(folder, ".toml") == {}  # absent
    folder.mkdir()
    (folder / "a.toml").write_text("a")
    (folder / "notes.txt").write_text("not watched")
    (folder / "sub.toml").mkdir()  # a folder named like one: its stat too, as stat_of gives it
    looks = [folder_watch.stat_names(folder, ".toml")]
    assert looks[0] == {name: folder_watch.stat_of(folder / name) for name in ("a.toml", "sub.toml")}
    (folder / "b.toml").write_text("b")  # added
    looks.append(folder_watch.stat_names(folder, ".toml"))
    (folder / "a.toml").write_text("edited in place")
    looks.append(folder_watch.stat_names(folder, ".toml"))
    (folder / "b.toml").chmod(0o600)  # only its ctime changes
    looks.append(folder_watch.stat_names(folder, ".toml"))
    (folder / "c.tmp").write_text("b")
    (folder / "c.tmp").replace(folder / "b.toml")  # replaced as editors save: a new inode
    looks.append(folder_watch.stat_names(folder, ".toml"))
    (folder / "a.toml").unlink()
    looks.append(folder_watch.stat_names(folder, ".toml"))
    assert all(earlier != later for earlier, later in itertools.pairwise(looks))
    assert sorted(looks[-1]) == ["b.toml", "sub.toml"]
    assert looks[-1]["b.toml"] == folder_watch.stat_of(folder / "b.toml")
    assert folder_watch.stat_names(folder / "b.toml", ".toml") == {}  # a file, not a folder


async def test_open_services_puts_every_periodic_look_on_one_ticker(layout, clean_env):
    """The monitor, the download queue's look at its database, the app manifests and the plugins folder
    share the ticker open_services builds: one thread call a tick serves them all."""
    from tests.tui.conftest import running_services

    async with running_services(layout, run_downloads=True, docker__host="unix:///nonexistent/docker.sock") as s:
        ticker = s.monitor.ticker
        assert ticker is not None and s.apps.ticker is ticker and s.apps.stats_poll.ticker is ticker
        expected = {"monitor", "download queue", f"watch {layout.user_apps_dir}", f"watch {layout.plugins_dir}"}
        await wait_for(lambda: {job.name for job in ticker._jobs} == expected)
        calls = ticker.thread_calls
        await ticker.tick_now()
        assert ticker.thread_calls == calls + 1
