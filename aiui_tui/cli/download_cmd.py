"""`aiui-tui download URL`: fetch one file now, with a progress bar; Ctrl+C keeps a resumable part."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

from aiui_tui.bus import Bus
from aiui_tui.cli.context import Context
from aiui_tui.core.errors import UsageError
from aiui_tui.core.format import human_bytes
from aiui_tui.core.requests import DownloadRequest
from aiui_tui.kinds import kind_names

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("download", help="download one file now (resumable, verified)")
    add_request_arguments(parser)
    parser.set_defaults(handler=run)


def add_request_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="http(s) URL of the file")
    parser.add_argument("--sha256", metavar="HEX", help="expected sha256: the file is kept only if it matches")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--dest", metavar="DIR", help="folder to save into (default: the current folder)")
    where.add_argument(
        "--kind",
        metavar="KIND",
        choices=kind_names(),
        help="save into the library's models/KIND/ folder (checkpoints, loras, vae, ...)",
    )
    parser.add_argument("--name", help="file name (default: from the server or the URL)")
    parser.add_argument("--connections", type=int, metavar="N", help="connections for large files (1-16)")
    parser.add_argument("--retries", type=int, metavar="N", help="retries after a failed attempt")


def request_from_args(args: argparse.Namespace) -> DownloadRequest:
    from aiui_tui.services.downloads.urls import url_problem

    problem = url_problem(args.url)
    if problem is not None:
        raise UsageError(f"Not an http(s) URL: {args.url!r}: {problem}.", "give the full URL, starting with https://")
    if args.sha256 and not _SHA256.match(args.sha256):
        raise UsageError("--sha256 must be 64 hexadecimal characters.", "copy the full sha256 from the model page")
    if args.connections is not None and not 1 <= args.connections <= 16:
        raise UsageError("--connections must be between 1 and 16.", "use --connections 4")
    if args.retries is not None and not 0 <= args.retries <= 20:
        raise UsageError("--retries must be between 0 and 20.", "use --retries 3")
    return DownloadRequest(
        url=args.url,
        kind=args.kind,
        dest_dir=Path(args.dest) if args.dest else (None if args.kind else Path.cwd()),
        name=args.name,
        sha256=args.sha256,
        connections=args.connections,
        retries=args.retries,
        source={"type": "url"},
    )


@contextlib.asynccontextmanager
async def download_service(ctx: Context, *, run_queue: bool = False) -> AsyncIterator:
    from aiui_tui.services import make_downloads

    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    service = make_downloads(ctx.layout, ctx.config, ctx.credentials, bus)
    ctx.plugins.attach(bus)
    await service.start(run_queue=run_queue)
    try:
        yield service
    finally:
        await ctx.plugins.drain()
        await service.close()


def run(ctx: Context) -> int:
    request = request_from_args(ctx.args)
    state: dict[str, object] = {}
    try:
        return asyncio.run(_download(ctx, request, state))
    except KeyboardInterrupt:
        part = state.get("part")
        kept = Path(str(part)).stat().st_size if part and Path(str(part)).exists() else 0
        ctx.out.warn(
            f"Interrupted: {human_bytes(kept)} kept in {part}." if part else "Interrupted.",
            "run the same command again to resume",
        )
        return 130


async def _download(ctx: Context, request: DownloadRequest, state: dict[str, object]) -> int:
    from aiui_tui.cli.progress import DownloadBars
    from aiui_tui.services.downloads.parts import part_files

    async with download_service(ctx) as service:
        item = await service.enqueue(request)
        if item.target:
            state["part"] = part_files(Path(item.target), item.id).data
        with DownloadBars(service.bus, ctx.out.err, {item.id: item.display_name}):
            done = await service.run_item(item.id, foreground=True)
    how = "sha256 verified" if done.sha256 else f"sha256 {done.result_sha256}"
    ctx.out.success(f"Saved {done.target} ({human_bytes(done.done_bytes)}, {how}).", stderr=True)
    print(done.target)  # alone on stdout, for scripts
    return 0
