"""`aiui-tui`: parse the command line, prepare the data root, run one command or the TUI.

Exit codes: 0 ok, 1 a check or operation failed, 2 bad input or environment. Expected failures
are one red line; anything unexpected is one line too, with the traceback in logs/aiui.log.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Collection, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING

from aiui_tui.core.errors import EXIT_FAILED, EXIT_USAGE, AiuiError

if TYPE_CHECKING:
    import argparse

EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # what a shell reports for coreutils ended by a closed pipe
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_GLOBAL_OPTIONS = {"--root": "root", "--log-level": "log_level"}


def build_parser(*, load: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The full parser (`cli.parser.build_parser`): every command's options, or only `load`'s."""
    from aiui_tui.cli.parser import build_parser

    return build_parser(load=load)


def _plain_dashboard(argv: Sequence[str]) -> SimpleNamespace | None:
    """The global options when the arguments are only `--root DIR` and `--log-level LEVEL` (each also
    as `--option=value`) or none: the dashboard, without argparse (~10 ms of its first frame). Any other
    spelling (abbreviations, a missing value, a command) is None and left to the parsers."""
    found: dict[str, str | None] = {"root": None, "log_level": None}
    words = list(argv)
    while words:
        name, eq, value = words.pop(0).partition("=")
        key = _GLOBAL_OPTIONS.get(name)
        if key is None:
            return None
        if not eq:
            if not words or words[0].startswith("-"):
                return None
            value = words.pop(0)
        found[key] = value
    level = found["log_level"]
    if level is not None:
        if level.upper() not in _LOG_LEVELS:
            return None
        found["log_level"] = level.upper()
    return SimpleNamespace(**found)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv, program=argv is None)
    except BrokenPipeError:
        # The reader went away (`aiui-tui stats --json | head`): end quietly, as coreutils do. Output
        # still buffered would fail again at exit, so stdout now points at /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    if argv is None:  # the program itself, not a caller of main(argv): a one-shot command may skip teardown
        from aiui_tui.cli import ending

        if ending.requested():
            ending.end_now(code)
    return code


def _main(argv: Sequence[str] | None, *, program: bool = False) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    dashboard = _plain_dashboard(argv)
    if dashboard is None:
        from aiui_tui.cli.parser import dashboard_args

        dashboard = dashboard_args(argv)
    if dashboard is not None:  # no command: the dashboard, without importing the commands first
        from aiui_tui.cli.tui_cmd import run_tui

        return run_tui(dashboard.root, dashboard.log_level)
    from aiui_tui.cli import startup
    from aiui_tui.cli.parser import build_parser, command_named

    if program:  # a test calling main(argv) keeps its collector as it is
        startup.hold_gc()
    command = command_named(argv)
    parser = build_parser(load=() if command is None else (command,))
    args = parser.parse_args(argv)
    # Imported after parsing: `--version` and `--help` end above without config, logging or rich.
    from aiui_tui.cli.console import Output
    from aiui_tui.cli.context import Context, bootstrap
    from aiui_tui.logs import get_logger, redact_text

    log = get_logger("aiui_tui.cli")
    out = Output()
    try:
        if args.command is None:  # e.g. `aiui-tui --root` with a bad value reached argparse
            parser.print_usage()
            return EXIT_USAGE
        renamed = getattr(args, "renamed", None)
        if renamed is not None:  # an old spelling (commands.RENAMED): it works, and says its new name
            old, new = renamed
            out.warn(f"`{old}` is now `{new}`; the old name goes in the next release.")
        ctx: Context = bootstrap(args, out, root_use=getattr(args, "root_use", "existing"))
        if not getattr(args, "releases_gc", False):  # else the command does, once its services are open
            startup.release_gc()
        return int(args.handler(ctx) or 0)
    except BrokenPipeError:
        raise
    except AiuiError as exc:
        log.warning("command failed", command=args.command, error=exc.one_line(), exit_code=exc.exit_code)
        out.failure(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        out.warn("Interrupted.")
        return 130
    except Exception as exc:
        from aiui_tui.core.oserrors import os_problem

        problem = os_problem(exc) if isinstance(exc, OSError) else None
        if problem is not None:  # a full disk, a denied permission...: the machine, not a bug
            log.warning("command failed", command=args.command, error=problem.one_line(), exc_info=True)
            out.failure(problem)
            return problem.exit_code
        log.exception("unexpected error", command=args.command)
        out.error(f"Unexpected error: {type(exc).__name__}: {redact_text(str(exc))}", _report_hint(args.root))
        return EXIT_FAILED


def _report_hint(root_arg: str | None) -> str:
    """Where the traceback went: the log file when there is one (no data root, no log)."""
    from aiui_tui.paths import Layout, resolve_root

    log_file = Layout(resolve_root(root_arg)).log_file
    if log_file.is_file():
        return f"details are in {log_file}; please report it"
    return "please report it with the command you ran (no log was written: the data root has no logs folder)"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
