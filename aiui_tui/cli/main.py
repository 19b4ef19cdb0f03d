"""`aiui-tui`: parse the command line, prepare the data root, run one command or the TUI.

Exit codes: 0 ok, 1 a check or operation failed, 2 bad input or environment. Expected failures
are one red line; anything unexpected is one line too, with the traceback in logs/aiui.log.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Collection, Sequence

from aiui_tui import __version__
from aiui_tui.core.errors import EXIT_FAILED, EXIT_USAGE, AiuiError

EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # what a shell reports for coreutils ended by a closed pipe


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as our one-line error (exit 2)."""

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
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
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


def _command_named(argv: Sequence[str]) -> str | None:
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
        super().__init__(add_help=False)
        self.add_argument("--root")
        self.add_argument("--log-level", type=str.upper, choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _NotQuick(message)


class _NotQuick(Exception):
    pass


def _dashboard_args(argv: Sequence[str]) -> argparse.Namespace | None:
    """The global options when no command is given (the dashboard's fast path), else None."""
    if any(a in ("-h", "--help", "--version") for a in argv):
        return None
    try:
        args, rest = _QuietParser().parse_known_args(list(argv))
    except _NotQuick:
        return None
    return None if rest else args


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv)
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


def _main(argv: Sequence[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    dashboard = _dashboard_args(argv)
    if dashboard is not None:  # no command: the dashboard, without importing the commands first
        from aiui_tui.cli.tui_cmd import run_tui

        return run_tui(dashboard.root, dashboard.log_level)
    command = _command_named(argv)
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
