"""`aiui-tui plugins list|enable|disable|info`: see what is installed and switch plugins on and off."""

from __future__ import annotations

import argparse
import json
from typing import Any

from aiui_tui.cli.console import escape
from aiui_tui.cli.context import Context
from aiui_tui.core.errors import EXIT_OK, UsageError

_STYLE = {"loaded": "green", "disabled": "dim", "failed": "bold red", "refused": "red", "broken": "red"}
_SECRET_WORDS = ("secret", "token", "password", "key")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("plugins", help="list, enable, disable and inspect plugins")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every plugin found (folders and packages) and its state")
    listing.add_argument("--json", action="store_true", help="print them as JSON")
    enable = actions.add_parser("enable", help="turn a plugin on (config/plugins/NAME.toml: enabled = true)")
    enable.add_argument("name")
    disable = actions.add_parser("disable", help="turn a plugin off; its code is not imported any more")
    disable.add_argument("name")
    info = actions.add_parser("info", help="a plugin's details, settings and what it contributes")
    info.add_argument("name")
    info.add_argument("--json", action="store_true", help="print it as JSON")
    parser.set_defaults(handler=run)


def run(ctx: Context) -> int:
    action = ctx.args.action
    if action == "list":
        return _list(ctx)
    from aiui_tui.services import discover_plugins as discover

    # enable/disable import nothing (a broken plugin must be switchable off); info loads it to show more.
    plugins = ctx.plugins.discover() if action == "info" else discover(ctx.layout)
    name = ctx.args.name
    if name not in plugins:
        known = ", ".join(sorted(plugins)) or "none found"
        raise UsageError(
            f"No plugin named {name!r} (found: {known}).",
            f"put it in {ctx.layout.plugins_dir}/NAME/ with a plugin.toml, or pip install the package",
        )
    if action == "info":
        return _info(ctx, name)
    return _switch(ctx, name, action == "enable")


def _list(ctx: Context) -> int:
    plugins = ctx.plugins.discover()
    if ctx.args.json:
        print(json.dumps({"plugins": [p.as_json() for p in plugins.values()]}, indent=2))
        return EXIT_OK
    if not plugins:
        ctx.out.info(f"No plugins found in {ctx.layout.plugins_dir} or installed packages.")
        return EXIT_OK
    for p in plugins.values():
        style = _STYLE.get(p.state, "white")
        ctx.out.out.print(
            f"[bold]{escape(p.name):<16}[/] {escape(p.version or '-'):<9} [{style}]{p.state:<9}[/] "
            f"{p.kind:<8} {escape(p.description)}",
            highlight=False,
        )
        if p.problem:
            ctx.out.out.print(f"  [{style}]{escape(p.problem)}[/]", highlight=False)
    return EXIT_OK


def _switch(ctx: Context, name: str, enabled: bool) -> int:
    from aiui_tui.services import load_plugins
    from aiui_tui.services import set_plugin_enabled as set_enabled

    path = set_enabled(ctx.layout, name, enabled)
    if not enabled:
        ctx.out.success(f"Plugin {name} disabled ({path}); its code is not loaded from the next start on.")
        return EXIT_OK
    trial = load_plugins(ctx.layout, on_warning=ctx.out.warn)  # load it now, so problems show at once
    info = trial.plugins.get(name)
    if info is None or info.state != "loaded":
        ctx.out.warn(f"Plugin {name} is enabled in {path} but does not load; see the line above.")
        return EXIT_OK
    ctx.out.success(f"Plugin {name} enabled ({path}): {_contributions_line(trial, name)}.")
    ctx.out.info("A running dashboard picks it up when it starts next.")
    return EXIT_OK


_NOUNS = {"apps": "app", "catalog": "catalog model", "sources": "model source", "commands": "palette command",
          "screens": "screen", "hooks": "hook"}  # fmt: skip


def _contributions_line(service: Any, name: str) -> str:
    c = service.contributions(name)
    parts = [
        f"{len(items)} {_NOUNS.get(what, what)}{'s' if len(items) != 1 else ''}" for what, items in c.items() if items
    ]
    return ", ".join(parts) or "nothing contributed"


def _masked(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: ("****" if any(w in k.lower() for w in _SECRET_WORDS) and v else v) for k, v in settings.items()}


def _info(ctx: Context, name: str) -> int:
    service = ctx.plugins
    info = service.discover()[name]
    data = {**info.as_json(), "settings": _masked(info.settings), "contributes": None}
    if info.state == "loaded":
        data["contributes"] = service.contributions(name)
    if ctx.args.json:
        print(json.dumps(data, indent=2, default=str))
        return EXIT_OK
    out = ctx.out.out
    style = _STYLE.get(info.state, "white")
    out.print(f"[bold]{escape(info.name)}[/] {escape(info.version)}  [{style}]{info.state}[/]", highlight=False)
    if info.description:
        out.print(escape(info.description), highlight=False)
    out.print(f"kind: {info.kind}   targets plugin API: {escape(info.api or '?')}", highlight=False)
    out.print(f"from: {escape(info.location)}", highlight=False)
    if info.problem:
        out.print(f"[{style}]problem: {escape(info.problem)}[/]", highlight=False)
    settings = _masked(info.settings)
    out.print(f"settings ({ctx.layout.plugin_config_dir / (name + '.toml')}):", highlight=False)
    for key, value in settings.items():
        out.print(f"  {escape(key)} = {escape(json.dumps(value, default=str))}", highlight=False)
    if not settings:
        out.print("  (none)", highlight=False)
    if data["contributes"]:
        for what, items in data["contributes"].items():
            out.print(f"{what}: {escape(', '.join(items) or '-')}", highlight=False)
    return EXIT_OK
