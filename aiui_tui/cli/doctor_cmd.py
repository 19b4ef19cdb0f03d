"""`aiui-tui doctor [--json]`: check Python, the data root, disk, Docker, the GPU and the network."""

from __future__ import annotations

import argparse
import asyncio
import json

from aiui_tui.cli.console import escape
from aiui_tui.cli.context import Context, command_line
from aiui_tui.core.errors import EXIT_FAILED, EXIT_OK
from aiui_tui.services import context_from_env, run_checks

_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("doctor", help="check the system: Docker, NVIDIA runtime, GPU, disk, network")
    parser.add_argument("--json", action="store_true", help='print {"checks": [{"name", "status", "detail", "fix"}]}')
    parser.set_defaults(handler=run, root_use="inspect")  # reports a missing or unusable root as a check


def run(ctx: Context) -> int:
    checks = context_from_env(ctx.layout, ctx.config, init_command=command_line(ctx.args.root, "init"))
    results = asyncio.run(run_checks(checks))
    failed = any(r.status == "fail" for r in results)
    if ctx.args.json:
        print(json.dumps({"checks": [r.as_dict() for r in results]}, indent=2))
        return EXIT_FAILED if failed else EXIT_OK
    width = max(len(r.name) for r in results)
    for r in results:
        ctx.out.out.print(
            f"[{_STYLE[r.status]}]{r.status:<4}[/] {escape(r.name):<{width}}  {escape(r.detail)}",
            markup=True,
            highlight=False,
        )
        if r.fix and r.status != "ok":
            ctx.out.out.print(f"     {'':<{width}}  fix: {r.fix}", markup=False, highlight=False)
    if failed:
        ctx.out.error("Some checks failed; see the fixes above.")
    elif any(r.status == "warn" for r in results):
        ctx.out.warn("Ready, with warnings above.")
    else:
        ctx.out.success("All checks passed.")
    return EXIT_FAILED if failed else EXIT_OK
