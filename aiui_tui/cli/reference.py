"""The CLI reference page (docs/cli.md), generated from the parser so it always matches `--help`.

`python -m aiui_tui.cli.reference > docs/cli.md` writes it; tests/test_docs.py fails when it is stale.
"""

from __future__ import annotations

import argparse
import os
import sys

WIDTH = "100"  # argparse wraps at $COLUMNS: fixed, so the page does not depend on the terminal


def _subparsers(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):  # those with a help line: old spellings have none
            shown = {choice.dest for choice in action._choices_actions}
            found.extend((name, sub) for name, sub in action.choices.items() if name in shown)
    return found


def _walk(parser: argparse.ArgumentParser, path: list[str], out: list[str], level: int) -> None:
    name = " ".join(path)
    out += [f"{'#' * level} `{name}`", "", "```text", parser.format_help().rstrip(), "```", ""]
    for sub_name, sub in _subparsers(parser):
        _walk(sub, [*path, sub_name], out, min(level + 1, 4))


def render() -> str:
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        from aiui_tui.cli.main import build_parser

        out = [
            "# CLI reference",
            "",
            "Every command and option, exactly as `--help` prints them (this page is generated from the",
            "parser: `python -m aiui_tui.cli.reference > docs/cli.md`; a test keeps it current).",
            "Without a command, `aiui-tui` starts the dashboard.",
            "",
        ]
        _walk(build_parser(), ["aiui-tui"], out, 2)
        return "\n".join(out).rstrip() + "\n"
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous


if __name__ == "__main__":
    sys.stdout.write(render())
