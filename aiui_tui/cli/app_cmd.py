"""`aiui-tui app ...`: list, start (with pull and startup progress), stop, restart, status, logs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import TYPE_CHECKING

from aiui_tui.cli.console import escape
from aiui_tui.core.errors import EXIT_FAILED, EXIT_OK, AiuiError

if TYPE_CHECKING:  # imported where used: `app list --json` loads neither rich nor the event classes
    from aiui_tui.cli.context import Context
    from aiui_tui.core.apps import AppStatus
    from aiui_tui.services import AppService

READ_ONLY = ("list", "status")  # actions that only look: the light engine client, no GPU sampler


PROFILES = ["auto", "low", "normal", "high", "cpu"]
EXIT_UPDATE_AVAILABLE = 100  # `dnf check-update`'s convention: 0 none, 100 available, 1 the check failed
JSON_HELP = 'print {"apps": [...], "engine": {"address", "available", "reason", "fix"}} (and "error" on failure)'


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("app", help="start, stop and watch the web UIs (Docker)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every app: built-in, yours (config/apps) and plugins'")
    listing.add_argument("--json", action="store_true", help=JSON_HELP)
    start = actions.add_parser("start", help="pull if needed, start, and wait until the UI answers")
    start.add_argument("name")
    start.add_argument("--profile", choices=PROFILES, help="VRAM profile (default: apps.profile in the config)")
    where = start.add_mutually_exclusive_group()
    where.add_argument(
        "--gpu", type=int, metavar="N", help="run an instance on GPU N only (container NAME-gpuN, port + N)"
    )
    where.add_argument("--all-gpus", action="store_true", help="one instance per GPU, each with its own port")
    start.add_argument("--json", action="store_true", help=JSON_HELP)
    options = actions.add_parser(
        "options", help="performance options (attention, precision, model cache): show, recommend, or set"
    )
    options.add_argument("name")
    options.add_argument("settings", nargs="*", metavar="KEY=VALUE", help="set these (kept in config/aiui.toml)")
    options.add_argument("--json", action="store_true")
    restart = actions.add_parser("restart", help="stop, then start again")
    restart.add_argument("name")
    restart.add_argument("--profile", choices=PROFILES)
    restart.add_argument("--json", action="store_true", help=JSON_HELP)
    stop = actions.add_parser("stop", help="stop the app's container")
    stop.add_argument("name")
    stop.add_argument("--json", action="store_true", help=JSON_HELP)
    status = actions.add_parser("status", help="state and URL of one app or all")
    status.add_argument("name", nargs="?")
    status.add_argument("--json", action="store_true", help=JSON_HELP)
    logs = actions.add_parser("logs", help="the container's log")
    logs.add_argument("name")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines (Ctrl+C stops)")
    logs.add_argument("--tail", type=int, default=100, metavar="N", help="lines to show first (default 100)")
    check = actions.add_parser(
        "check-update",
        help="compare the local image with the registry's (no download); "
        "exit 0: up to date, 100: an update is available, 1: the registry could not be asked",
    )
    check.add_argument("name")
    check.add_argument("--json", action="store_true", help=JSON_HELP + ', with "update": {"available", "detail"}')
    upd = actions.add_parser("update", help="pull the newer image; a running app is recreated on it")
    upd.add_argument("name")
    doctor = actions.add_parser(
        "doctor", help="check the image against the manifest's contract; show the container it would start"
    )
    doctor.add_argument("name")
    doctor.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run, releases_gc=True)  # once its services are open (cli.startup)


@contextlib.asynccontextmanager
async def app_service(ctx: Context, *, need_engine: bool = True, read_only: bool = False) -> AsyncIterator[AppService]:
    """The app service for one command, with the plugins' apps and the GPUs' memory; `read_only` (list,
    status) asks the engine through the light client and starts no GPU sampler."""
    from aiui_tui.cli.startup import release_gc
    from aiui_tui.services import open_services

    async with open_services(
        ctx.layout,
        ctx.config,
        ctx.credentials,
        only=("plugins", "apps"),
        supervise=False,
        read_only=read_only,
        on_plugin_warning=ctx.out.warn,
    ) as services:
        release_gc()  # start-up is over: what it made is kept (frozen), the rest is collected as usual
        service = services.apps
        assert service is not None
        if need_engine and service.engine_problem is not None:
            raise service.engine_problem
        yield service


def run(ctx: Context) -> int:
    try:
        return asyncio.run(_run(ctx))
    except KeyboardInterrupt:
        return 130
    except AiuiError:
        raise
    except Exception as exc:
        from aiui_tui.services import engine_address, engine_refusal

        problem = engine_refusal(exc, engine_address(ctx.config.docker))
        if problem is None:
            raise
        raise problem from exc


async def _run(ctx: Context) -> int:
    action = ctx.args.action
    async with app_service(ctx, need_engine=False, read_only=action in READ_ONLY) as service:
        name = getattr(ctx.args, "name", None)
        if name and not (action == "status" and name in service.broken):
            service.manifest(name)  # an unknown name or a broken manifest is said before any engine problem
        if action != "list" and service.engine_problem is not None:
            if getattr(ctx.args, "json", False):  # the same shape as every --json answer, with "error"
                return _json(service, _selected(ctx, service), service.engine_problem)
            raise service.engine_problem
        if action == "list":
            return _list(ctx, service)
        if action == "options":
            from aiui_tui.cli.options_cmd import options

            return await options(ctx, service)
        if action == "doctor":
            from aiui_tui.cli.app_doctor import app_doctor

            return await app_doctor(ctx, service)
        if action == "status":
            return _status(ctx, service)
        if action in ("start", "restart"):
            return await _start(ctx, service, restart=action == "restart")
        if action == "stop":
            status = await service.stop_app(ctx.args.name)
            if ctx.args.json:
                return _json(service, [status])
            ctx.out.success(f"{status.title} is {status.state}.")
            return EXIT_OK
        if action == "check-update":
            return await _check_update(ctx, service)
        if action == "update":
            status = await service.update_app(ctx.args.name)
            ctx.out.success(f"{status.title} updated; it is {status.state}.")
            return EXIT_OK
        if action == "logs":
            service.manifest(ctx.args.name)
            if ctx.args.follow:
                async for line in service.follow_logs(ctx.args.name, tail=ctx.args.tail):
                    print(line, flush=True)
            else:
                for line in await service.logs(ctx.args.name, tail=ctx.args.tail):
                    print(line)
            return EXIT_OK
    raise AssertionError(action)


def _list(ctx: Context, service) -> int:
    rows = []
    for name in sorted(service.broken):
        broken = service.broken[name]
        rows.append(
            {
                "name": name,
                "title": name,
                "image": "",
                "port": None,
                "network": None,
                "gpu": None,
                "enabled": True,
                "source": broken.source,
                "state": "broken",
                "error": broken.error.message,
                "fix": broken.error.fix,
            }
        )
    for name in service.names():
        loaded = service.apps[name]
        status = service.status(name)
        m = loaded.manifest
        rows.append(
            {
                "name": name,
                "title": m.display_title,
                "image": status.image,
                "port": m.published_port,
                "network": m.network,
                "gpu": m.gpu,
                "enabled": service.enabled(name),
                "source": loaded.source,
                "state": status.state,
                "error": "",
                "fix": "",
            }
        )
    rows.sort(key=lambda row: row["name"])
    if ctx.args.json:
        print(json.dumps({"apps": rows, "engine": engine_json(service)}, indent=2))
        return EXIT_OK
    for row in rows:
        if row["state"] == "broken":  # the error names the file, the line and the key
            problem = f"{row['error']} Fix: {row['fix']}"
            ctx.out.out.print(
                f"[bold]{escape(row['name']):<16}[/] [bold red]broken[/] {escape(problem)}", highlight=False
            )
            continue
        mark = "" if row["enabled"] else " (not enabled)"
        ctx.out.out.print(
            f"[bold]{escape(row['name']):<16}[/] {escape(row['title']):<18} :{row['port']:<6} "
            f"{escape(row['image'])}  [dim]{escape(row['source'])}{mark}[/]",
            highlight=False,
        )
    if service.engine_problem:
        ctx.out.warn(service.engine_problem.message, service.engine_problem.fix)
    return EXIT_OK


def engine_json(service) -> dict:
    """The engine as every `--json` answer of `app` shows it: one shape, reachable or not."""
    problem = service.engine_problem
    return {
        "address": service.address,
        "available": problem is None,
        "reason": problem.message if problem else "",
        "fix": problem.fix if problem else "",
    }


def _json(service, statuses: list[AppStatus], error: AiuiError | None = None, **extra) -> int:
    """Print the one JSON shape of app commands: apps, engine, then any extra keys and the error."""
    data: dict = {"apps": [asdict(s) for s in statuses], "engine": engine_json(service), **extra}
    if error is not None:
        data["error"] = {
            "message": error.message,
            "fix": error.fix,
            "last_lines": list(getattr(error, "last_lines", ())),
        }
    print(json.dumps(data, indent=2))
    return EXIT_OK if error is None else error.exit_code


def _selected(ctx: Context, service) -> list[AppStatus]:
    name = getattr(ctx.args, "name", None)
    if ctx.args.action == "status" and not name:
        return service.statuses()
    return [service.status(name)] if name else []


def _status(ctx: Context, service) -> int:
    statuses: list[AppStatus] = _selected(ctx, service)
    if ctx.args.json:
        return _json(service, statuses)
    from aiui_tui.core.presentation import app_state  # the labels and colours the dashboard shows

    for s in statuses:
        label, style = app_state(s.state)
        detail = s.url or s.reason or ""
        if s.state == "exited":
            detail = f"exit code {s.exit_code}" if s.exit_code is not None else (s.reason or "exited")
        elif s.state == "broken":
            detail = f"{s.reason} Fix: {s.fix}"
        ctx.out.out.print(f"[bold]{escape(s.name):<16}[/] [{style}]{label:<14}[/] {escape(detail)}", highlight=False)
    return EXIT_OK


async def _check_update(ctx: Context, service) -> int:
    from aiui_tui.services import AppError

    name = ctx.args.name
    try:
        available, why = await service.check_update(name)
    except AppError as exc:  # the registry could not be asked: never "up to date"
        if ctx.args.json:
            return _json(service, [service.status(name)], exc)
        raise
    code = EXIT_UPDATE_AVAILABLE if available else EXIT_OK
    if ctx.args.json:
        _json(service, [service.status(name)], update={"available": available, "detail": why})
        return code
    (ctx.out.warn if available else ctx.out.success)(why)
    return code


async def _start(ctx: Context, service, *, restart: bool) -> int:
    from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from aiui_tui.core.events import AppPullProgress, AppStateChanged, Notice
    from aiui_tui.services import AppError

    name = ctx.args.name
    title = service.manifest(name).display_title
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=None),
        DownloadColumn(binary_units=True),
        TimeElapsedColumn(),
        console=ctx.out.err,
        transient=True,
    )
    pull_task = None
    phase = progress.add_task(f"{title}: preparing", total=None)

    def on_pull(event: AppPullProgress) -> None:
        nonlocal pull_task
        if pull_task is None:
            pull_task = progress.add_task(f"pulling {event.image}", total=event.total)
        progress.update(pull_task, completed=event.done, total=event.total)

    def on_state(event: AppStateChanged) -> None:
        if event.name == name or event.name.startswith(name + "-gpu"):
            progress.update(phase, description=f"{event.status.title}: {event.status.state}")

    def on_notice(event: Notice) -> None:
        if ctx.args.json:
            return  # JSON answers carry the outcome; warnings stay in the log
        progress.console.print(f"[yellow]{escape(event.message)}[/yellow]", highlight=False)

    unsubscribe = [
        service.bus.subscribe(on_pull, AppPullProgress),
        service.bus.subscribe(on_state, AppStateChanged),
        service.bus.subscribe(on_notice, Notice),
    ]
    try:
        live = ctx.out.err.is_terminal and not ctx.args.json  # piped: no bar, no stray blank line
        with progress if live else contextlib.nullcontext():
            if restart:
                await service.restart_app(name, ctx.args.profile)
                started = [service.status(name)]
            elif getattr(ctx.args, "all_gpus", False):
                started = await service.start_on_all_gpus(name, ctx.args.profile)
            elif getattr(ctx.args, "gpu", None) is not None:
                started = [await service.start_on_gpu(name, ctx.args.gpu, ctx.args.profile)]
            else:
                started = [await service.start_app(name, ctx.args.profile)]
    except AppError as exc:
        if ctx.args.json:
            return _json(service, _started_statuses(service, name), exc)
        ctx.out.error(exc.message, exc.fix)
        for line in exc.last_lines:
            ctx.out.err.print(f"  | {escape(line)}", highlight=False)
        return EXIT_FAILED
    finally:
        for undo in unsubscribe:
            undo()
    if ctx.args.json:
        return _json(service, started)
    for status in started:
        ctx.out.success(f"{status.title} is ready ({status.profile or 'default'} profile).", stderr=True)
        print(status.url)
    return EXIT_OK


def _started_statuses(service, name: str) -> list[AppStatus]:
    """The app and its instances on single GPUs, as they are after a failed start."""
    return [s for s in service.statuses() if s.name == name or s.name.startswith(name + "-gpu")]
