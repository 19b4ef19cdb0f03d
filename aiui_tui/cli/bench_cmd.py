"""`aiui-tui bench APP`: time a fixed txt2img request through the running app's own API; table + JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from urllib.parse import urlsplit

from aiui_tui.cli.context import Context
from aiui_tui.core.errors import EXIT_OK, UsageError
from aiui_tui.core.format import human_bytes

_SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "bench",
        help="time image generation through a running app's API (s/image, it/s, peak VRAM and RAM)",
        description="Send a fixed text-to-image request through the app's own HTTP API: one warm-up image "
        "(model load), then --runs timed ones. Results go to outputs/bench/APP-TIME.json for comparing "
        "profiles and options.",
    )
    parser.add_argument("app", help="an app name (see `aiui-tui app list`)")
    parser.add_argument("--steps", type=int, default=20, metavar="N", help="sampling steps per image (default 20)")
    parser.add_argument("--size", default="512x512", metavar="WxH", help="image size (default 512x512)")
    parser.add_argument("--runs", type=int, default=3, metavar="N", help="timed images after the warm-up (default 3)")
    parser.add_argument("--no-warmup", action="store_true", help="time the first image too (includes model load)")
    parser.add_argument("--url", help="benchmark a UI at this URL instead (e.g. one installed outside Docker)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=run)


def parse_size(text: str) -> tuple[int, int]:
    match = _SIZE.match(text.strip().lower())
    if not match:
        raise UsageError(f"Not a size: {text!r}.", "write WIDTHxHEIGHT, e.g. --size 1024x1024")
    width, height = int(match.group(1)), int(match.group(2))
    if width % 8 or height % 8 or not (64 <= width <= 8192 and 64 <= height <= 8192):
        raise UsageError(f"{text}: sides must be multiples of 8 between 64 and 8192.", "e.g. --size 1024x1024")
    return width, height


def run(ctx: Context) -> int:
    width, height = parse_size(ctx.args.size)
    if not 1 <= ctx.args.steps <= 500 or not 1 <= ctx.args.runs <= 100:
        raise UsageError("--steps must be 1-500 and --runs 1-100.", "e.g. --steps 20 --runs 3")
    if ctx.args.url and not ctx.args.url.startswith(("http://", "https://")):
        raise UsageError(f"Not an http(s) URL: {ctx.args.url!r}.", "e.g. --url http://127.0.0.1:7860/")
    try:
        return asyncio.run(_bench(ctx, width, height))
    except KeyboardInterrupt:
        ctx.out.warn("Interrupted; nothing saved.")
        return 130


async def _bench(ctx: Context, width: int, height: int) -> int:
    from aiui_tui.cli.app_cmd import app_service
    from aiui_tui.core.apps import READY
    from aiui_tui.services import (
        BenchError,
        BenchRequest,
        GpuSampler,
        listener_pid,
        require_api,
        run_bench,
        save_result,
    )

    name = ctx.args.app
    async with app_service(ctx, need_engine=False) as service:
        manifest = service.manifest(name)
        require_api(manifest.api, manifest.display_title)  # before asking the engine anything
        loaded = service.apps[name]
        profile, options, pid = "", {}, None
        if ctx.args.url:
            url = ctx.args.url
            parts = urlsplit(url)
            if parts.hostname in ("127.0.0.1", "localhost", "::1") and parts.port:
                pid = await asyncio.to_thread(listener_pid, parts.port)
        else:
            if service.engine_problem is not None:
                raise service.engine_problem
            status = service.status(name)
            if status.state != READY or not status.url:
                raise BenchError(
                    f"{manifest.display_title} is not running ({status.state}).",
                    f"start it first: aiui-tui app start {name} (or give --url for a UI outside Docker)",
                )
            url, profile = status.url, status.profile
            spec = await service.describe(name)
            options = spec.options
            container = await asyncio.to_thread(service.client.containers.get, status.container_id)
            pid = (container.attrs.get("State") or {}).get("Pid") or None
        request = BenchRequest(
            app=name, title=manifest.display_title, api=manifest.api, url=url, steps=ctx.args.steps, width=width,
            height=height, runs=ctx.args.runs, warmup=not ctx.args.no_warmup, pid=pid,
            gpu_index=loaded.gpu_index, profile=profile, options=options,
        )  # fmt: skip
    gpu = GpuSampler()
    total = ctx.args.runs

    def on_run(index: int, seconds: float) -> None:
        ctx.out.err.print(f"[dim]image {index + 1}/{total}: {seconds:.2f} s[/]", highlight=False)

    ctx.out.err.print(
        f"[bold]{manifest.display_title}[/] at {url}: {width}x{height}, {ctx.args.steps} steps, "
        f"{'1 warm-up + ' if request.warmup else ''}{total} timed",
        highlight=False,
    )
    try:
        result = await run_bench(request, gpu_sampler=gpu, on_run=on_run)
    finally:
        await asyncio.to_thread(gpu.close)
    path = await asyncio.to_thread(save_result, ctx.layout, result)
    if ctx.args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        _table(ctx, result)
    for note in result.notes:
        ctx.out.err.print(f"[dim]{note}[/]", highlight=False)
    ctx.out.success(f"Saved {path}", stderr=True)
    return EXIT_OK


def _table(ctx: Context, r) -> None:
    from rich.table import Table

    table = Table(title=f"{r.app} ({r.api}) {r.width}x{r.height}, {r.steps} steps", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("model", r.model or "-")
    table.add_row("profile / options", " ".join([r.profile or "-", *(f"{k}={v}" for k, v in r.options.items())]))
    table.add_row("warm-up (model load)", f"{r.warmup_s:.2f} s" if r.warmup_s is not None else "-")
    table.add_row("runs", ", ".join(f"{t:.2f}" for t in r.run_s) + " s")
    table.add_row("seconds per image (median)", f"{r.seconds_per_image:.2f}")
    table.add_row("iterations per second", f"{r.iterations_per_second:.2f}")
    table.add_row("peak VRAM", human_bytes(r.peak_vram_bytes) if r.peak_vram_bytes is not None else "n/a")
    table.add_row("peak RAM", human_bytes(r.peak_ram_bytes) if r.peak_ram_bytes is not None else "n/a")
    table.add_row("GPU", r.gpu or "none")
    ctx.out.out.print(table)
