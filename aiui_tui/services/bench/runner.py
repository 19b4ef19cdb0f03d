"""Run the benchmark: one warm-up image (model load), then N timed ones; sample peak VRAM and RAM meanwhile.

Peak VRAM comes from NVML (the most memory used on any GPU, or on the instance's own GPU); peak RAM
is the resident memory of the app's process tree: the container's main process, or, for a UI
outside Docker (`--url`), the process listening on the URL's port. Samplers run in a thread.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiui_tui import __version__
from aiui_tui.paths import Layout
from aiui_tui.services.bench.clients import BenchError, client_for

SAMPLE_EVERY_S = 0.2


@dataclass(frozen=True)
class BenchRequest:
    app: str
    title: str
    api: str
    url: str
    steps: int = 20
    width: int = 512
    height: int = 512
    runs: int = 3
    warmup: bool = True
    pid: int | None = None  # root of the process tree whose RAM is sampled
    gpu_index: int | None = None  # an instance pinned to one GPU: sample that one
    profile: str = ""
    options: dict[str, str] = field(default_factory=dict)


@dataclass
class BenchResult:
    app: str
    api: str
    url: str
    model: str
    steps: int
    width: int
    height: int
    profile: str
    options: dict[str, str]
    warmup_s: float | None
    run_s: list[float]
    seconds_per_image: float
    iterations_per_second: float
    peak_vram_bytes: int | None
    peak_ram_bytes: int | None
    gpu: str
    started_at: str
    aiui_version: str = __version__
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class PeakSampler:
    """Peak GPU memory and process-tree RSS, sampled in a thread until stopped."""

    def __init__(self, pid: int | None, gpu_sampler: Any, gpu_index: int | None) -> None:
        self.pid = pid
        self.gpu_sampler = gpu_sampler
        self.gpu_index = gpu_index
        self.peak_vram: int | None = None
        self.peak_ram: int | None = None
        self.gpu_name = ""
        self.gpu_reason = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(SAMPLE_EVERY_S):
                self.sample()
                return

    def sample(self) -> None:
        ram = _tree_rss(self.pid) if self.pid else None
        if ram is not None:
            self.peak_ram = max(self.peak_ram or 0, ram)
        if self.gpu_sampler is None:
            return
        available, gpus, reason, _fix = self.gpu_sampler.sample()
        if not available:
            self.gpu_reason = reason
            return
        chosen = [g for g in gpus if self.gpu_index is None or g.index == self.gpu_index]
        used = [g.memory_used for g in chosen if g.memory_used is not None]
        if used:
            self.peak_vram = max(self.peak_vram or 0, max(used))
            self.gpu_name = ", ".join(sorted({g.name for g in chosen}))


def _tree_rss(pid: int) -> int | None:
    import psutil

    try:
        root = psutil.Process(pid)
        total = int(root.memory_info().rss)
        for child in root.children(recursive=True):
            try:
                total += int(child.memory_info().rss)
            except psutil.Error:
                pass
        return total
    except psutil.Error:
        return None


def listener_pid(port: int) -> int | None:
    """The process listening on this TCP port on this machine, when we may see it."""
    import psutil

    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return int(conn.pid)
    except (psutil.Error, OSError):
        return None
    return None


async def run_bench(
    request: BenchRequest,
    *,
    gpu_sampler: Any = None,
    on_run: Callable[[int, float], None] | None = None,
) -> BenchResult:
    import aiohttp

    if request.steps < 1 or request.runs < 1 or request.width < 64 or request.height < 64:
        raise BenchError("Steps and runs must be at least 1, width and height at least 64.", "e.g. --steps 20 --runs 3")
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=1800)
    sampler = PeakSampler(request.pid, gpu_sampler, request.gpu_index)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        client = client_for(request.api, request.title, request.url, session)
        await client.prepare(request.width, request.height, request.steps)
        await asyncio.to_thread(sampler.start)
        try:
            warmup = None
            if request.warmup:
                t0 = time.perf_counter()
                await client.generate(request.width, request.height, request.steps)
                warmup = time.perf_counter() - t0
            times = []
            for index in range(request.runs):
                t0 = time.perf_counter()
                await client.generate(request.width, request.height, request.steps)
                times.append(time.perf_counter() - t0)
                if on_run is not None:
                    on_run(index, times[-1])
        finally:
            await asyncio.to_thread(sampler.stop)
    seconds = statistics.median(times)
    notes = []
    if sampler.peak_vram is None:
        notes.append(f"peak VRAM not measured: {sampler.gpu_reason or 'no NVIDIA GPU'}")
    if sampler.peak_ram is None:
        notes.append("peak RAM not measured: the app's process is not visible from here (a remote engine?)")
    return BenchResult(
        app=request.app,
        api=request.api,
        url=request.url,
        model=client.model,
        steps=request.steps,
        width=request.width,
        height=request.height,
        profile=request.profile,
        options=dict(request.options),
        warmup_s=round(warmup, 4) if warmup is not None else None,
        run_s=[round(t, 4) for t in times],
        seconds_per_image=round(seconds, 4),
        iterations_per_second=round(request.steps / seconds, 3) if seconds > 0 else 0.0,
        peak_vram_bytes=sampler.peak_vram,
        peak_ram_bytes=sampler.peak_ram,
        gpu=sampler.gpu_name,
        started_at=started,
        notes=notes,
    )


def save_result(layout: Layout, result: BenchResult) -> Path:
    """outputs/bench/APP-YYYYmmdd-HHMMSS.json, so runs on different profiles can be compared."""
    from aiui_tui.tomledit import atomic_write

    folder = layout.outputs_dir / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = folder / f"{result.app}-{stamp}.json"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{result.app}-{stamp}-{n}.json"
    atomic_write(path, json.dumps(result.to_json(), indent=2) + "\n")
    return path
