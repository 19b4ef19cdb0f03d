"""The command line's parsers (argparse): the full one with each command's options, and a quiet one
for a first look at the global options. Imported by `cli.main` when a command is given: the dashboard
started with no arguments, or with only `--root` and `--log-level`, does not import argparse.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Collection, Sequence
from typing import Any

from aiui_tui import __version__
from aiui_tui.core.errors import EXIT_USAGE

LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]

# argparse translates each of its words through gettext as it builds a parser (~70 for `app`'s eleven
# actions), and gettext looks for a catalog in every locale folder at each call: ~7 ms of every command
# for the same few answers. The process's locale does not change, so each word's answer is kept.
if not hasattr(argparse._, "cache_info"):  # type: ignore[attr-defined]
    argparse._ = functools.cache(argparse._)  # type: ignore[attr-defined]
    argparse.ngettext = functools.cache(argparse.ngettext)  # type: ignore[attr-defined]


def _columns() -> int:
    """The terminal's width as `shutil.get_terminal_size()` says it ($COLUMNS, else stdout's, else 80)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, told the width: argparse asks shutil for it, whose import (with bz2, lzma
    and fnmatch) is ~4 ms of every command, though a command's parser only formats on --help or an
    error. Formatting is argparse's own (its width is the terminal's less 2, as argparse does)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None):
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as our one-line error (exit 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        from aiui_tui.cli.console import Output

        Output().error(f"{message}.", f"see `{self.prog} --help`")
        raise SystemExit(EXIT_USAGE)


def build_parser(*, load: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The parser with every command's options, or (`load` given) with only those commands' modules
    imported and registered: the others are listed by name and help, which is all `aiui-tui --help`
    shows of them. `load=()` for `--version`, `--help` or an unknown command."""
    parser = _Parser(
        prog=os.environ.get("AIUI_PROG") or "aiui-tui",  # scripts/run names itself
        description="Run Stable Diffusion web UIs in Docker and keep one model library for all of them. "
        "Without a command, the full-screen dashboard starts.",
    )
    parser.add_argument("--version", action="version", version=f"aiui-tui {__version__}")
    parser.add_argument("--root", metavar="DIR", help="data root (default: $AIUI_ROOT, else the user data folder)")
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        help="log level for this run (default: general.log_level in config/aiui.toml)",
    )
    from aiui_tui.cli.commands import COMMANDS, command_module

    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (_module, help_text) in COMMANDS.items():
        if load is None or name in load:
            command_module(name).register(sub)
        else:
            sub.add_parser(name, help=help_text)
    return parser


def command_named(argv: Sequence[str]) -> str | None:
    """The command the arguments name (after the global options), or None."""
    from aiui_tui.cli.commands import COMMANDS, RENAMED

    try:
        _args, rest = _QuietParser().parse_known_args(list(argv))
    except _NotQuick:  # e.g. `--root` without its value: the full parser says what is wrong
        return None
    words = [w for w in rest if not w.startswith("-")]
    word = RENAMED.get(words[0], words[0]) if words else None
    return word if word in COMMANDS else None


class _QuietParser(argparse.ArgumentParser):
    """The global options only, for a first look at the arguments: it prints nothing, and a problem
    raises `_NotQuick` (the full parser then says what is wrong)."""

    def __init__(self) -> None:
        super().__init__(add_help=False, formatter_class=_Formatter)
        self.add_argument("--root")
        self.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _NotQuick(message)


class _NotQuick(Exception):
    pass


def dashboard_args(argv: Sequence[str]) -> argparse.Namespace | None:
    """The global options when no command is given (the dashboard's fast path), else None."""
    if any(a in ("-h", "--help", "--version") for a in argv):
        return None
    try:
        args, rest = _QuietParser().parse_known_args(list(argv))
    except _NotQuick:
        return None
    return None if rest else args
