"""Monitoring overhead: the app and system monitors watching 10 running containers, against peers.

Starts --containers stand-in apps (busybox httpd, host network, 127.0.0.1 only), then measures in
--rounds interleaved rounds of --seconds each, in one process, the services wired as the dashboard has
them (`open_services`, one ticker):
  idle     this process doing nothing (the peer: what a sleeping asyncio loop costs);
  monitor  MonitorService alone at 1 s (system and GPU sampler, no apps): the share of the system panel;
  poll     AppService + MonitorService at 1 s, container figures from one poll of the cgroup files;
  stream   the same, container figures from one Docker stats stream per container (the fallback kept
           for remote engines; the only way before);
each interval reports the CPU of this process (user+sys, all threads) in % of one core, its context
switches per second (every thread wake-up counts), the event loop's wake-ups per second (selector
calls) and the RSS change. Min and median over the rounds. Then the time from a container's state
change (killed from outside) to its AppStateChanged event.

--census instead runs every service as the dashboard has them (`open_services`) with the containers
running, and counts for --seconds the loop's wake-ups and the callbacks it ran, by source (task, timer,
thread-pool completion): where an idle dashboard's wake-ups come from, without the TUI.

Run as root with a Docker engine (scripts/test starts one):
  .venv/bin/python bench/monitor.py [--seconds 10] [--rounds 5] [--containers 10] [--json]
  .venv/bin/python bench/monitor.py --census [--seconds 20] [--containers 10]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import resource
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib
from collections.abc import AsyncIterator

from aiui_tui.bus import Bus
from aiui_tui.config import Config
from aiui_tui.core.events import AppStateChanged, ContainerStats
from aiui_tui.credentials import Credentials
from aiui_tui.paths import Layout, ensure_layout
from aiui_tui.services import Services, open_services
from aiui_tui.services.apps.spec import LABEL_ROOT
from tests.conftest import BUSYBOX_IMAGE, build_busybox_context

MODES = ("idle", "monitor", "poll", "stream")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_manifests(layout: Layout, count: int) -> list[str]:
    names = []
    for i in range(count):
        name, port = f"bench-{i}", free_port()
        (layout.user_apps_dir / f"{name}.toml").write_text(
            f'name = "{name}"\nimage = "{BUSYBOX_IMAGE}"\n'
            f'command = ["httpd", "-f", "-p", "127.0.0.1:{{port}}", "-h", "/www"]\n'
            f'port = {port}\nnetwork = "host"\ngpu = "none"\n'
        )
        names.append(name)
    return names


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


class LoopWakeups:
    """Counts the event loop's waits: selector calls that may sleep (a zero timeout only polls, as the
    loop does while callbacks are ready); each ends in one wake-up of the loop's thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.count = 0
        selector = loop._selector  # type: ignore[attr-defined]
        original = selector.select

        def select(timeout=None):
            if timeout is None or timeout > 0:
                self.count += 1
            return original(timeout)

        selector.select = select


class Counters:
    def __init__(self, wakeups: LoopWakeups) -> None:
        self.wakeups = wakeups

    def now(self) -> tuple[float, int, int, float, int]:
        u = resource.getrusage(resource.RUSAGE_SELF)
        return u.ru_utime + u.ru_stime, u.ru_nvcsw + u.ru_nivcsw, self.wakeups.count, time.monotonic(), rss_bytes()

    def delta(self, before: tuple, after: tuple) -> dict:
        wall = after[3] - before[3]
        return {
            "cpu_percent_of_one_core": round(100 * (after[0] - before[0]) / wall, 3),
            "context_switches_per_s": round((after[1] - before[1]) / wall, 1),
            "loop_wakeups_per_s": round((after[2] - before[2]) / wall, 1),
            "rss_change_kib": (after[4] - before[4]) // 1024,
        }


async def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return False


@contextlib.asynccontextmanager
async def watching(layout: Layout, mode: str, work: Path) -> AsyncIterator[tuple[Services, set[str]]]:
    """The monitor and the apps as the dashboard wires them (`open_services`), at 1 s; the names of the
    containers whose figures arrived so far."""
    bus = Bus()
    seen: set[str] = set()
    bus.subscribe(lambda e: seen.add(e.name), ContainerStats)
    # The stream mode: cgroup files that cannot be found, as with a remote engine.
    root = work / "no-cgroups" if mode == "stream" else Path("/sys/fs/cgroup")
    only = ("monitor",) if mode == "monitor" else ("monitor", "apps")
    async with open_services(layout, Config(), Credentials(), only=only, cgroup_root=root, bus=bus) as services:
        yield services, seen


async def start_apps(layout: Layout, names: list[str]) -> None:
    async with open_services(layout, Config(), Credentials(), only=("apps",), supervise=False) as services:
        assert services.apps is not None
        for name in names:
            await services.apps.start_app(name)


async def one_interval(layout: Layout, mode: str, seconds: float, count: int, work: Path, counters: Counters) -> dict:
    if mode == "idle":
        before = counters.now()
        await asyncio.sleep(seconds)
        return counters.delta(before, counters.now())
    async with watching(layout, mode, work) as (services, seen):
        if mode == "monitor":
            await asyncio.sleep(1.0)
            before = counters.now()
            await asyncio.sleep(seconds)
            return counters.delta(before, counters.now())
        apps = services.apps
        assert apps is not None
        if not await wait_for(lambda: len(seen) >= count, 30):  # every container has its figures
            raise SystemExit(f"only {len(seen)} of {count} containers reported figures in {mode} mode")
        sources = {apps.stats_source(apps.status(n).container_id or "") for n in seen}
        if sources != {"cgroup" if mode == "poll" else "stream"}:
            raise SystemExit(f"{mode} mode read its figures from {sources}")
        await asyncio.sleep(1.0)
        before = counters.now()
        await asyncio.sleep(seconds)
        result = counters.delta(before, counters.now())
    # The stream readers notice the stop at their next message: let them end before the next interval.
    await wait_for(lambda: not [t for t in threading.enumerate() if t.name.startswith("stats ")], 5)
    return result


class Census:
    """Counts the callbacks the loop runs (every `Handle._run`), by source, while `on`."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.on = False
        original = asyncio.events.Handle._run
        census = self

        def run(handle):
            if census.on:
                census.counts[label(handle._callback)] += 1
            return original(handle)

        asyncio.events.Handle._run = run  # type: ignore[method-assign]


def label(callback) -> str:
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        return f"task step: {getattr(coro, '__qualname__', owner.get_name())}"
    name = getattr(callback, "__qualname__", None) or type(callback).__name__
    if "_call_set_state" in name or "_set_state" in name:
        return "thread-pool completion (to_thread/run_in_executor)"
    return f"callback: {getattr(callback, '__module__', '') or ''}.{name}"


async def census(seconds: float, count: int) -> dict:
    import docker

    from aiui_tui.config import load_config
    from aiui_tui.credentials import load_credentials

    client = docker.from_env(timeout=120)
    work = Path(tempfile.mkdtemp(prefix="aiui-bench-"))
    client.images.build(path=str(build_busybox_context(work / "ctx")), tag=BUSYBOX_IMAGE, rm=True)
    layout = Layout(work / "root")
    ensure_layout(layout)
    names = write_manifests(layout, count)
    wakeups = LoopWakeups(asyncio.get_running_loop())
    counter = Census()
    try:
        await start_apps(layout, names)
        config, credentials = load_config(layout, env={}), load_credentials(layout, env={})
        async with open_services(layout, config, credentials) as services:
            seen: set[str] = set()
            services.bus.subscribe(lambda e: seen.add(e.name), ContainerStats)
            if not await wait_for(lambda: len(seen) >= count, 30):
                raise SystemExit(f"only {len(seen)} of {count} containers reported figures")
            await asyncio.sleep(2.0)
            before, cpu_before = wakeups.count, time.process_time()
            counter.on = True
            await asyncio.sleep(seconds)
            counter.on = False
            woke, cpu = wakeups.count - before, time.process_time() - cpu_before
    finally:
        for c in client.containers.list(all=True, filters={"label": f"{LABEL_ROOT}={layout.root}"}):
            c.remove(force=True)
        shutil.rmtree(work, ignore_errors=True)
    return {
        "containers": count,
        "seconds": seconds,
        "cpu_percent_of_one_core": round(100 * cpu / seconds, 3),
        "loop_wakeups_per_s": round(woke / seconds, 2),
        "callbacks_per_s": {k: round(v / seconds, 2) for k, v in counter.counts.most_common()},
    }


def summary(values: list[dict]) -> dict:
    out = {}
    for key in values[0]:
        series = [v[key] for v in values]
        out[key] = {"min": min(series), "median": round(statistics.median(series), 3), "runs": series}
    return out


async def latencies(layout: Layout, names: list[str], client, work: Path) -> list[float]:
    found = []
    async with watching(layout, "poll", work) as (services, seen):
        apps, bus = services.apps, services.bus
        assert apps is not None
        await wait_for(lambda: len(seen) >= len(names), 30)  # adopted: their container ids are known
        for name in names[:5]:
            changed = asyncio.Event()
            stamp: dict[str, float] = {}

            def on_change(event: AppStateChanged, name=name, changed=changed, stamp=stamp) -> None:
                if event.name == name and event.status.state in ("exited", "stopped"):
                    stamp["t"] = time.monotonic()
                    changed.set()

            undo = bus.subscribe(on_change, AppStateChanged)
            container = client.containers.get(apps.status(name).container_id)
            started = time.monotonic()
            await asyncio.to_thread(container.kill)
            await asyncio.wait_for(changed.wait(), 10)
            found.append(stamp["t"] - started)
            undo()
    return found


async def measure(seconds: float, rounds: int, count: int) -> dict:
    import docker

    client = docker.from_env(timeout=120)
    work = Path(tempfile.mkdtemp(prefix="aiui-bench-"))
    client.images.build(path=str(build_busybox_context(work / "ctx")), tag=BUSYBOX_IMAGE, rm=True)
    layout = Layout(work / "root")
    ensure_layout(layout)
    names = write_manifests(layout, count)
    counters = Counters(LoopWakeups(asyncio.get_running_loop()))
    results: dict[str, list[dict]] = {mode: [] for mode in MODES}
    try:
        await start_apps(layout, names)
        for round_ in range(rounds):
            order = MODES if round_ % 2 == 0 else tuple(reversed(MODES))  # interleaved, alternating order
            for mode in order:
                results[mode].append(await one_interval(layout, mode, seconds, count, work, counters))
        latency = await latencies(layout, names, client, work)
    finally:
        for c in client.containers.list(all=True, filters={"label": f"{LABEL_ROOT}={layout.root}"}):
            c.remove(force=True)
        shutil.rmtree(work, ignore_errors=True)
    by_mode = {mode: summary(values) for mode, values in results.items()}
    poll, stream, idle = (by_mode[m]["cpu_percent_of_one_core"]["median"] for m in ("poll", "stream", "idle"))
    return {
        "containers": count,
        "seconds": seconds,
        "rounds": rounds,
        "modes": by_mode,
        "poll_minus_idle_cpu_percent": round(poll - idle, 3),
        "stream_minus_idle_cpu_percent": round(stream - idle, 3),
        "state_change_to_event_s": {"median": round(statistics.median(latency), 3), "max": round(max(latency), 3)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--containers", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--census", action="store_true", help="wake-ups and callbacks by source of all services")
    args = parser.parse_args()
    if args.census:
        found = asyncio.run(census(args.seconds, args.containers))
        if args.json:
            print(json.dumps(found, indent=2))
            return
        print(
            f"all services, {args.containers} containers, {args.seconds:g} s: CPU {found['cpu_percent_of_one_core']}% "
            f"of a core, loop wake-ups {found['loop_wakeups_per_s']}/s; callbacks per second by source:"
        )
        for source, rate in found["callbacks_per_s"].items():
            print(f"  {rate:7.2f}  {source}")
        return
    result = asyncio.run(measure(args.seconds, args.rounds, args.containers))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.containers} containers, {args.rounds} interleaved rounds of {args.seconds:g} s (min / median)")
    keys = list(result["modes"]["idle"])
    print(f"{'':8}" + "".join(f"{k:>28}" for k in keys))
    for mode, figures in result["modes"].items():
        print(f"{mode:8}" + "".join(f"{figures[k]['min']:>14} / {figures[k]['median']:<11}" for k in keys))
    print(f"poll - idle:   {result['poll_minus_idle_cpu_percent']} points of a core")
    print(f"stream - idle: {result['stream_minus_idle_cpu_percent']} points of a core")
    latency = result["state_change_to_event_s"]
    print(f"state change to event: median {latency['median']} s, max {latency['max']} s")
    cpu_ok = result["modes"]["poll"]["cpu_percent_of_one_core"]["median"] < 1.0
    print(f"target < 1% of one core (monitor + apps, poll): {'met' if cpu_ok else 'NOT met'}; "
          f"state change < 1 s: {'met' if latency['max'] < 1.0 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
