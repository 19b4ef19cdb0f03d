"""Monitoring overhead: the app and system monitors watching 10 running containers.

Starts 10 stand-in apps (busybox httpd, host network, 127.0.0.1 only) through AppService, runs the
MonitorService at 1 s and one streaming stats reader per container, and measures over --seconds:
  - CPU used by this process (all threads: stats readers, event pump, samplers), as % of one core;
  - for comparison, the same process idle for the same time with no services (the peer);
  - the time from a container's state change (killed from outside) to its AppStateChanged event.

Run as root with a Docker engine (scripts/test starts one):  .venv/bin/python bench/monitor.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiui_tui.bus import Bus
from aiui_tui.config import Config
from aiui_tui.core.events import AppStateChanged, ContainerStats, SystemSample
from aiui_tui.paths import Layout, ensure_layout
from aiui_tui.services.apps import AppService
from aiui_tui.services.apps.spec import LABEL_ROOT
from aiui_tui.services.monitor import MonitorService
from tests.conftest import BUSYBOX_IMAGE, build_busybox_context


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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


async def measure(seconds: float, count: int) -> dict:
    import docker

    client = docker.from_env(timeout=120)
    work = Path(tempfile.mkdtemp(prefix="aiui-bench-"))
    client.images.build(path=str(build_busybox_context(work / "ctx")), tag=BUSYBOX_IMAGE, rm=True)
    layout = Layout(work / "root")
    ensure_layout(layout)
    names = write_manifests(layout, count)

    # The peer: this process doing nothing for the same time.
    before = cpu_seconds()
    await asyncio.sleep(seconds)
    idle = cpu_seconds() - before

    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    monitor = MonitorService(bus, {"models": layout.models_dir, "outputs": layout.outputs_dir}, interval_s=1.0)
    apps = AppService(layout, Config(), bus, gpu_memory_by_container=monitor.gpu_memory_of_container)
    counts = {"stats": 0, "system": 0}
    bus.subscribe(lambda e: counts.__setitem__("stats", counts["stats"] + 1), ContainerStats)
    bus.subscribe(lambda e: counts.__setitem__("system", counts["system"] + 1), SystemSample)
    await apps.start(supervise=True)
    await monitor.start()
    try:
        for name in names:
            await apps.start_app(name)
        await asyncio.sleep(3)  # readers settle
        counts.update(stats=0, system=0)
        before = cpu_seconds()
        await asyncio.sleep(seconds)
        used = cpu_seconds() - before
        stats_rate = counts["stats"] / seconds

        latencies = []
        for name in names[:5]:
            changed = asyncio.Event()
            stamp: dict[str, float] = {}

            def on_change(event: AppStateChanged, name=name, changed=changed, stamp=stamp) -> None:
                if event.name == name and event.status.state == "exited":
                    stamp["t"] = time.monotonic()
                    changed.set()

            undo = bus.subscribe(on_change, AppStateChanged)
            container = client.containers.get(apps.status(name).container_id)
            started = time.monotonic()
            await asyncio.to_thread(container.kill)
            await asyncio.wait_for(changed.wait(), 10)
            latencies.append(stamp["t"] - started)
            undo()
    finally:
        await monitor.close()
        await apps.close()
        for c in client.containers.list(all=True, filters={"label": f"{LABEL_ROOT}={layout.root}"}):
            c.remove(force=True)
        shutil.rmtree(work, ignore_errors=True)
    return {
        "containers": count,
        "seconds": seconds,
        "monitor_cpu_percent_of_one_core": round(100 * (used - idle) / seconds, 3),
        "idle_peer_cpu_percent": round(100 * idle / seconds, 3),
        "container_samples_per_s": round(stats_rate, 2),
        "state_change_to_event_s": {
            "median": round(statistics.median(latencies), 3),
            "max": round(max(latencies), 3),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--containers", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(measure(args.seconds, args.containers))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        print(f"{key:36} {value}")
    cpu_ok = result["monitor_cpu_percent_of_one_core"] < 1.0
    latency_ok = result["state_change_to_event_s"]["max"] < 1.0
    print(f"target < 1% of one core: {'met' if cpu_ok else 'NOT met'}; state change < 1 s: "
          f"{'met' if latency_ok else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
