"""Errors of the app service, each with the fix a user can act on."""

from __future__ import annotations

from aiui_tui.core.errors import AiuiError, UsageError


class AppError(AiuiError):
    """Starting, stopping or pulling failed; `last_lines` holds the container's last log lines."""

    def __init__(self, message: str, fix: str = "", last_lines: tuple[str, ...] = ()) -> None:
        super().__init__(message, fix)
        self.last_lines = last_lines


def unknown_app(name: str, known: list[str]) -> UsageError:
    return UsageError(
        f"No app named {name!r}.",
        f"use one of: {', '.join(known)} (or add config/apps/{name}.toml)" if known else "add config/apps/NAME.toml",
    )
