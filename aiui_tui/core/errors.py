"""One error hierarchy for expected failures: what happened, and what to do about it.

Services raise these at their edges; the CLI prints them as one red line and exits with
`exit_code`, the TUI shows them as a toast. Anything else is a bug: it is logged in full and
shown as one line.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # a check or an operation failed
EXIT_USAGE = 2  # bad input or environment: usage, config, permissions


class AiuiError(Exception):
    """An expected failure with a message and a fix, both one line."""

    exit_code = EXIT_FAILED
    title = "Error"

    def __init__(self, message: str, fix: str = "", *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        if exit_code is not None:
            self.exit_code = exit_code

    def one_line(self) -> str:
        return f"{self.message} Fix: {self.fix}" if self.fix else self.message

    def __str__(self) -> str:
        return self.one_line()


class UsageError(AiuiError):
    """Bad input or environment: usage, configuration, permissions."""

    exit_code = EXIT_USAGE
    title = "Invalid input"


class ConfigError(UsageError):
    title = "Configuration error"


class PathProblem(UsageError):
    title = "Data folder problem"


class SecretsError(UsageError):
    title = "Secrets file problem"


class EngineUnavailable(AiuiError):
    title = "Docker engine not reachable"


class DatabaseProblem(UsageError):
    """A state database (`state/*.sqlite`) that cannot be used: damaged, read-only, locked, disk full."""

    title = "State database problem"
