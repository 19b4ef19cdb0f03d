"""Coloured console output for the non-TUI commands.

Green success, yellow warnings, red errors, blue information. rich drops colours by itself when
the output is not a terminal or NO_COLOR is set, so piped output is plain text.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from aiui_tui.core.errors import AiuiError


class Output:
    def __init__(self, out: Console | None = None, err: Console | None = None) -> None:
        self.out = out or Console(highlight=False, soft_wrap=True)
        self.err = err or Console(stderr=True, highlight=False, soft_wrap=True)

    @property
    def interactive(self) -> bool:
        return self.out.is_terminal

    def success(self, message: str, *, stderr: bool = False) -> None:
        (self.err if stderr else self.out).print(f"[green]{escape(message)}[/green]")

    def info(self, message: str) -> None:
        self.out.print(f"[blue]{escape(message)}[/blue]")

    def plain(self, message: str) -> None:
        self.out.print(escape(message))

    def warn(self, message: str, fix: str = "") -> None:
        text = f"Warning: {message}" + (f" Fix: {fix}" if fix else "")
        self.err.print(f"[yellow]{escape(text)}[/yellow]")

    def error(self, message: str, fix: str = "") -> None:
        text = f"Error: {message}" + (f" Fix: {fix}" if fix else "")
        self.err.print(f"[bold red]{escape(text)}[/bold red]")

    def failure(self, exc: AiuiError) -> None:
        self.error(exc.message, exc.fix)
