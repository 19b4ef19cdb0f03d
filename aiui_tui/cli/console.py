"""Coloured console output for the non-TUI commands.

Green success, yellow warnings, red errors, blue information. rich drops colours by itself when
the output is not a terminal or NO_COLOR is set, so piped output is plain text. rich is imported
when the first line is printed: a command that answers in JSON never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiui_tui.core.errors import AiuiError

if TYPE_CHECKING:
    from rich.console import Console


def escape(text: str) -> str:
    """rich's markup escape, importing rich on first use."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


class Output:
    def __init__(self, out: Console | None = None, err: Console | None = None) -> None:
        self._out = out
        self._err = err

    @property
    def out(self) -> Console:
        if self._out is None:
            from rich.console import Console

            self._out = Console(highlight=False, soft_wrap=True)
        return self._out

    @property
    def err(self) -> Console:
        if self._err is None:
            from rich.console import Console

            self._err = Console(stderr=True, highlight=False, soft_wrap=True)
        return self._err

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
