"""How an unexpected exception ends the dashboard: the one place that adapts to a Textual internal.

Textual has no public hook for an unhandled exception in a handler, timer or worker: it calls the
private `App._handle_exception`, which sets the return code to 1, keeps the error for `run_test`
(Pilot re-raises it, so tests see it) and prints it on exit: with `panic(error)` when the error has a
`__rich__` method, else as a traceback with local variables, where a token held in a local could
reach the terminal (../shared/domain/pitfalls.md).

`OneLineCrashApp` keeps all of Textual's handling and changes only what is shown: it logs the
traceback (redacted, to logs/aiui.log) and hands Textual the error with a `__rich__` that renders
one line, so Textual prints that line instead of the traceback. It reads and writes no private
attribute; tests/tui/test_crash.py checks the hook's name and signature, so a Textual upgrade that
changes them fails there, not silently.
"""

from __future__ import annotations

from textual.app import App, ReturnType

from aiui_tui.tui.lazylog import get_logger, redact_text

log = get_logger(__name__)


class Crashed(Exception):
    """Stands in for an error that takes no attributes, with its one line (the error as its cause)."""

    def __init__(self, line: object) -> None:
        super().__init__(str(line))
        self.line = line

    def __rich__(self) -> object:
        return self.line


class OneLineCrashApp(App[ReturnType]):
    """An `App` whose unexpected errors go to the log in full and to the terminal as one line."""

    def crash_line(self, error: BaseException) -> object:
        """What the terminal shows on exit (a rich renderable)."""
        from rich.text import Text

        return Text(f"aiui-tui stopped on an unexpected error: {type(error).__name__}: {redact_text(str(error))}.")

    def _handle_exception(self, error: Exception) -> None:  # Textual's hook (see the module's docstring)
        log.error("unexpected error in the dashboard", exc_info=error)
        line = self.crash_line(error)
        try:
            setattr(error, "__rich__", lambda: line)  # noqa: B010 (an instance attribute, for Textual's hasattr)
        except (AttributeError, TypeError):
            stand_in = Crashed(line)
            stand_in.__cause__ = error
            error = stand_in
        super()._handle_exception(error)
