"""`aiui-tui download URL`: fetch one file now, with a progress bar; Ctrl+C keeps a resumable part."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from aiui_tui.cli.context import Context
from aiui_tui.cli.ending import end_at_once
from aiui_tui.core.downloads import PAUSED
from aiui_tui.core.errors import AiuiError
from aiui_tui.core.format import human_bytes
from aiui_tui.core.requests import DownloadRequest
from aiui_tui.kinds import kind_names

if TYPE_CHECKING:
    from aiui_tui.services import DownloadService


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("download", help="download one file now (resumable, verified)")
    add_request_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the finished item as JSON (instead of its path)")
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
    """The checks every typed download goes through (the TUI's add dialog uses the same)."""
    from aiui_tui.services import make_request

    return make_request(
        args.url,
        kind=args.kind,
        dest=args.dest,
        name=args.name,
        sha256=args.sha256,
        connections=args.connections,
        retries=args.retries,
    )


@contextlib.asynccontextmanager
async def download_service(ctx: Context, *, run_queue: bool = False) -> AsyncIterator[DownloadService]:
    from aiui_tui.services import open_services

    async with open_services(
        ctx.layout,
        ctx.config,
        ctx.credentials,
        only=("plugins", "downloads"),
        supervise=False,
        run_downloads=run_queue,
        on_plugin_warning=ctx.out.warn,
    ) as services:
        assert services.downloads is not None
        yield services.downloads


def run(ctx: Context) -> int:
    request = request_from_args(ctx.args)
    state: dict[str, object] = {}
    try:
        code = asyncio.run(_download(ctx, request, state))
    except KeyboardInterrupt:
        from aiui_tui.services import kept_bytes

        part, target, item_id = state.get("part"), state.get("target"), state.get("id")
        kept = kept_bytes(Path(str(target)), str(item_id)) if part else 0  # a segmented part is preallocated
        ctx.out.warn(
            f"Interrupted: {human_bytes(kept)} kept in {part}." if part else "Interrupted.",
            "run the same command again to resume",
        )
        return 130
    # Done: the file fsynced and renamed, the queue's database and the HTTP session closed, the
    # event loop and its threads gone. The interpreter's teardown would only delay the exit.
    end_at_once()
    return code


async def _download(ctx: Context, request: DownloadRequest, state: dict[str, object]) -> int:
    from aiui_tui.cli.lines import DownloadLines, say, stderr_is_terminal
    from aiui_tui.services import DiskFull, part_files

    terminal = stderr_is_terminal()  # else plain lines, and rich is never imported
    async with download_service(ctx) as service:
        item, new = await service.submit(request, foreground=True)
        if item.target:
            state.update(part=part_files(Path(item.target), item.id).data, target=item.target, id=item.id)
        names = {item.id: item.display_name}
        if terminal:
            from aiui_tui.cli.progress import DownloadBars

            bars: DownloadBars | DownloadLines = DownloadBars(service.bus, ctx.out.err, names)
        else:
            bars = DownloadLines(service.bus, names)
        with bars:
            try:
                done = await service.run_one_shot(item.id, new=new)
            except AiuiError as exc:
                if not isinstance(exc, DiskFull):  # that one's message says what is kept
                    await _say_what_is_kept(ctx, service, item.id)
                raise
    how = "sha256 verified" if done.sha256 else f"sha256 {done.result_sha256}"
    saved = f"Saved {done.target} ({human_bytes(done.done_bytes)}, {how})."
    if terminal:
        ctx.out.success(saved, stderr=True)
    else:
        say(saved)
    if ctx.args.json:
        print(json.dumps({"item": asdict(done)}, indent=2))
    else:
        print(done.target)  # alone on stdout, for scripts
    return 0


async def _say_what_is_kept(ctx: Context, service, item_id: str) -> None:
    """A failed download kept paused (a full disk, a lost connection) resumes with the same command."""
    row = next((i for i in await service.items() if i.id == item_id), None)
    if row is not None and row.state == PAUSED:
        kept = await service.kept_bytes(item_id)
        ctx.out.warn(f"{human_bytes(kept)} of {row.display_name} kept.", "run the same command again to resume")
