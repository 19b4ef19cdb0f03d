"""`aiui-tui`: parse the command line, prepare the data root, run one command or the TUI.

Exit codes: 0 ok, 1 a check or operation failed, 2 bad input or environment. Expected failures
are one red line; anything unexpected is one line too, with the traceback in logs/aiui.log.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from aiui_tui import __version__
from aiui_tui.cli.commands import COMMANDS
from aiui_tui.cli.console import Output
from aiui_tui.cli.context import Context, bootstrap
from aiui_tui.core.errors import EXIT_FAILED, EXIT_USAGE, AiuiError
from aiui_tui.logs import get_logger, redact_text

log = get_logger("aiui_tui.cli")


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as our one-line error (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        Output().error(f"{message}.", f"see `{self.prog} --help`")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="aiui-tui",
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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Output()
    try:
        if args.command is None:
            from aiui_tui.cli.tui_cmd import run_tui

            return run_tui(args, out)
        ctx: Context = bootstrap(args, out, create=getattr(args, "creates_layout", True))
        return int(args.handler(ctx) or 0)
    except AiuiError as exc:
        log.warning("command failed", command=args.command, error=exc.one_line(), exit_code=exc.exit_code)
        out.failure(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        out.warn("Interrupted.")
        return 130
    except Exception as exc:
        log.exception("unexpected error", command=args.command)
        out.error(
            f"Unexpected error: {type(exc).__name__}: {redact_text(str(exc))}",
            "details are in logs/aiui.log; please report it",
        )
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
