"""`aiui-tui downloads ...`: the persistent download queue, shared with the dashboard's Downloads screen."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict

from aiui_tui.cli.context import Context
from aiui_tui.cli.download_cmd import add_request_arguments, download_service, request_from_args
from aiui_tui.core.downloads import ACTIVE, FAILED, PAUSED, PENDING, DownloadItem
from aiui_tui.core.errors import UsageError
from aiui_tui.core.format import human_bytes, human_percent, human_rate


def register(sub: argparse._SubParsersAction) -> None:
    from aiui_tui.cli.commands import COMMANDS, add_renamed

    _add_actions(sub.add_parser("downloads", help=COMMANDS["downloads"][1]))
    _add_actions(add_renamed(sub, "queue", "downloads"))  # the old name: hidden, for one release


def _add_actions(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every download with its state")
    listing.add_argument("--json", action="store_true", help="print the items as JSON")
    add = actions.add_parser("add", help="queue a download (the dashboard or `downloads run` downloads it)")
    add_request_arguments(add)
    add.add_argument("--json", action="store_true", help="print the queued item as JSON")
    for name, text in (
        ("pause", "pause a download (its part is kept)"),
        ("resume", "resume a paused download"),
        ("cancel", "cancel a download and delete its part"),
        ("retry", "retry a failed download"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("id", help="the id shown by `downloads list` (a unique prefix is enough)")
        action.add_argument("--json", action="store_true", help="print the item as JSON")
    move = actions.add_parser("move", help="move a download up or down the queue")
    move.add_argument("id")
    move.add_argument("direction", choices=["up", "down"])
    move.add_argument("--json", action="store_true", help="print the moved item as JSON")
    actions.add_parser("run", help="download everything queued, here, until the queue is empty")
    parser.set_defaults(handler=run)


def run(ctx: Context) -> int:
    return asyncio.run(_run(ctx))


async def _run(ctx: Context) -> int:
    action = ctx.args.action
    async with download_service(ctx, run_queue=action == "run") as service:
        if action == "list":
            items = await service.items()
            if ctx.args.json:
                print(json.dumps({"items": [asdict(i) for i in items]}, indent=2))
            else:
                _print_table(ctx, items)
            return 0
        if action == "add":
            item, new = await service.submit(request_from_args(ctx.args))
            if ctx.args.json:
                running = _queue_running(service)
                print(json.dumps({"item": asdict(item), "new": new, "queue_running": running}, indent=2))
                return 0
            ctx.out.success(f"Queued {item.display_name} as {item.id}." if new else f"Already queued as {item.id}.")
            if not _queue_running(service):
                ctx.out.info("Start the dashboard (aiui-tui) or run `aiui-tui downloads run` to download it.")
            return 0
        if action == "run":
            return await _run_queue(ctx, service)
        if action == "move":
            item = await service.move(ctx.args.id, -1 if ctx.args.direction == "up" else 1)
            said = f"Moved {item.display_name} ({item.id}) {ctx.args.direction}."
        else:
            item = await getattr(service, action)(ctx.args.id)
            past = {"pause": "Paused", "resume": "Resumed", "cancel": "Cancelled", "retry": "Retrying"}[action]
            said = f"{past} {item.display_name} ({item.id})."
        if ctx.args.json:  # the shape of `download --json`; a cancelled item is gone from the queue
            print(json.dumps({"item": asdict(item)} | ({"removed": True} if action == "cancel" else {}), indent=2))
        else:
            ctx.out.success(said)
        return 0


def _queue_running(service) -> bool:
    from aiui_tui.services import lock_owner, process_alive

    return process_alive(lock_owner(service.runner_lock_path))


async def _run_queue(ctx: Context, service) -> int:
    from aiui_tui.cli.progress import DownloadBars

    if not service.runs_queue:
        raise UsageError(
            "Another aiui-tui process (the dashboard?) is running the queue.",
            "let it finish, or close it and run this again",
        )
    with DownloadBars(service.bus, ctx.out.err):
        while True:
            await asyncio.sleep(0.5)
            items = await service.items()
            if not any(i.state in (PENDING, ACTIVE) for i in items):
                break
    failed = [i for i in items if i.state == FAILED]
    stopped = [i for i in items if i.state == PAUSED and i.fix]  # paused by a problem to fix (a full disk)
    for item in failed + stopped:
        ctx.out.error(f"{item.display_name}: {item.reason}", item.fix)
    summary = f"Queue empty: {sum(i.state == 'done' for i in items)} done, {len(failed)} failed"
    ctx.out.success(summary + (f", {len(stopped)} paused until fixed." if stopped else "."))
    return 1 if failed or stopped else 0


def _print_table(ctx: Context, items: list[DownloadItem]) -> None:
    from rich.table import Table  # here: `downloads list --json` does not load rich

    from aiui_tui.core.presentation import download_state

    if not items:
        ctx.out.info("The queue is empty. Add with `aiui-tui downloads add URL --kind checkpoints`.")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("ID", "STATE", "DONE", "SIZE", "SPEED", "NAME", "REASON"):
        table.add_column(column, overflow="fold")
    for item in items:
        total = item.total_bytes or item.size
        label, style = download_state(item.state)
        table.add_row(
            item.id,
            f"[{style}]{label}[/]",
            human_percent(item.fraction),
            human_bytes(total) if total else "?",
            human_rate(item.speed) if item.state == ACTIVE else "",
            item.display_name,
            item.reason + (f" Fix: {item.fix}" if item.fix else ""),
        )
    ctx.out.out.print(table)
