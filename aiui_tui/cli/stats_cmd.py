"""`aiui-tui stats [--json]`: one sample of the system, the GPUs and the running app containers."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict

from aiui_tui.cli.context import Context
from aiui_tui.core.errors import EXIT_OK
from aiui_tui.core.format import human_bytes

CONTAINER_WAIT_S = 3.0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("stats", help="one sample of CPU, memory, disks, GPUs and app containers")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run)


def run(ctx: Context) -> int:
    return asyncio.run(_run(ctx))


async def _run(ctx: Context) -> int:
    from aiui_tui.bus import Bus
    from aiui_tui.core.events import ContainerStats
    from aiui_tui.services import open_services

    bus = Bus()
    containers: dict[str, ContainerStats] = {}
    bus.subscribe(lambda e: containers.setdefault(e.name, e), ContainerStats)
    async with open_services(
        ctx.layout,
        ctx.config,
        ctx.credentials,
        only=("monitor", "apps"),  # as before: no plugins loaded (their apps' containers go unnamed)
        supervise=False,
        bus=bus,
    ) as services:
        apps, monitor = services.apps, services.monitor
        assert apps is not None and monitor is not None
        await asyncio.sleep(0.5)  # cpu_percent needs an interval
        system, gpu = await monitor.sample_once()
        running = [s.name for s in apps.statuses() if s.running]
        deadline = asyncio.get_running_loop().time() + CONTAINER_WAIT_S
        # A deadline poll: each running app's stats reader delivers its first sample within a second or so.
        while set(running) - set(containers) and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    from aiui_tui.cli.app_cmd import engine_json

    engine = engine_json(apps)  # the same shape as every `app ... --json`
    result = {
        "system": asdict(system),
        "gpus": [asdict(g) for g in gpu.gpus],
        "gpu_available": gpu.available,
        "gpu_reason": gpu.reason,
        "gpu_fix": gpu.fix,
        "containers": [asdict(c) for c in containers.values()],
        "engine": engine,
    }
    if ctx.args.json:
        print(json.dumps(result, indent=2))
        return EXIT_OK
    p = ctx.out.out.print
    p(f"CPU     {system.cpu_percent:5.1f}%  ({len(system.cpu_per_core)} cores)", highlight=False)
    p(f"Memory  {human_bytes(system.memory_used)} / {human_bytes(system.memory_total)}", highlight=False)
    for disk in system.disks:
        p(f"Disk    {disk.label}: {human_bytes(disk.free)} free of {human_bytes(disk.total)}", highlight=False)
    if not gpu.available:
        p(f"GPU     none: {gpu.reason}", highlight=False)
    for g in gpu.gpus:
        fields = [
            f"{g.utilization}%" if g.utilization is not None else "util n/a",
            f"{human_bytes(g.memory_used or 0)}/{human_bytes(g.memory_total or 0)}",
            f"{g.temperature}°C" if g.temperature is not None else "temp n/a",
            f"{g.power_w:.0f} W" if g.power_w is not None else "power n/a",
            f"fan {g.fan_percent}%" if g.fan_percent is not None else "fan n/a",
        ]
        p(f"GPU {g.index}   {g.name}: " + ", ".join(fields), highlight=False)
    for c in containers.values():
        p(f"App     {c.name}: CPU {c.cpu_percent:.1f}%, memory {human_bytes(c.memory_used)}", highlight=False)
    return EXIT_OK
