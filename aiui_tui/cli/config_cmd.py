"""`aiui-tui config show|get|set|path|set-secret`: read and edit settings, keeping comments."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

import tomlkit

from aiui_tui.cli.context import Context
from aiui_tui.config import get_value, set_from_cli
from aiui_tui.core.errors import UsageError
from aiui_tui.credentials import ENV_NAMES, save_secret


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("config", help="show or change settings in config/aiui.toml")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("show", help="print the effective settings")
    actions.add_parser("path", help="print the config file's path")
    get = actions.add_parser("get", help="print one setting, e.g. downloads.concurrent")
    get.add_argument("key")
    setp = actions.add_parser("set", help="change one setting (comments in the file are kept)")
    setp.add_argument("key")
    setp.add_argument("value", help='a TOML value: 3, true, "text", ["a", "b"]; bare words are text')
    secret = actions.add_parser(
        "set-secret", help="store a token in config/secrets.toml (0600), read from a prompt or stdin"
    )
    secret.add_argument("name", choices=sorted(ENV_NAMES))
    parser.set_defaults(handler=run)


def run(ctx: Context) -> int:
    action = ctx.args.action
    if action == "path":
        print(ctx.layout.config_file)
    elif action == "show":
        print(tomlkit.dumps(ctx.config.model_dump()).rstrip())
    elif action == "get":
        value = get_value(ctx.config, ctx.args.key)
        print(json.dumps(value) if not isinstance(value, str) else value)
    elif action == "set":
        config = set_from_cli(ctx.layout, ctx.args.key, ctx.args.value)
        ctx.out.success(f"{ctx.args.key} = {json.dumps(get_value(config, ctx.args.key))}")
        if ctx.args.key == "network.bind_address" and config.network.exposed:
            ctx.out.warn(
                f"apps will listen on {config.network.bind_address}: anyone on your network can reach them.",
                "use 127.0.0.1 and an SSH tunnel (ssh -L 7865:127.0.0.1:7865 host) instead",
            )
    elif action == "set-secret":
        value = _read_secret(ctx.args.name)
        save_secret(ctx.layout, ctx.args.name, value)
        env = ENV_NAMES[ctx.args.name][0]
        ctx.out.success(
            f"{ctx.args.name} {'saved' if value else 'removed'} in {ctx.layout.secrets_file} (mode 0600)."
            + (f" {env} in the environment still takes precedence." if value else "")
        )
    return 0


# Tokens are under 200 characters; a line past this is not a token (and is not read further).
_MAX_TOKEN_LINE = 4096


def _read_secret(name: str) -> str:
    if sys.stdin.isatty():
        value = getpass.getpass(f"{name} (input hidden, empty to remove): ")
    else:
        raw = sys.stdin.buffer.readline(_MAX_TOKEN_LINE + 1)
        if len(raw) > _MAX_TOKEN_LINE:
            raise UsageError(f"{name}: the input line is over {_MAX_TOKEN_LINE} bytes.", "paste the token alone")
        try:
            value = raw.decode("ascii")
        except UnicodeDecodeError:
            raise UsageError(f"{name} contains bytes that are not ASCII text.", "paste the token alone") from None
    value = value.strip()
    if any(ch.isspace() for ch in value):
        raise UsageError(f"{name} contains spaces.", "paste the token alone")
    if not value.isascii() or not value.isprintable():
        raise UsageError(f"{name} contains characters that no token has.", "paste the token alone")
    return value
