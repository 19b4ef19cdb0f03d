"""The structured logger, imported on first use: structlog costs ~0.1 s, paid after the first frame."""

from __future__ import annotations

from typing import Any


class LazyLogger:
    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, attr: str) -> Any:
        if self._logger is None:
            from aiui_tui.logs import get_logger

            self._logger = get_logger(self._name)
        return getattr(self._logger, attr)


def get_logger(name: str) -> LazyLogger:
    return LazyLogger(name)


def redact_text(text: str) -> str:
    from aiui_tui.logs import redact_text as redact

    return redact(text)
