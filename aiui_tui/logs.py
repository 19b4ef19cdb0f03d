"""Structured logging: JSON lines in `logs/aiui.log`, rotated, with secrets redacted.

Everything (our calls and the standard logging of aiohttp, docker, urllib3...) goes through one
stdlib handler, so redaction applies to every line, tracebacks included. Nothing is written to the
terminal: under the TUI the screen belongs to Textual.

The structured API is structlog's (`log.info("message", key=value)`, `log.exception(...)`, `bind`),
written here on the standard library: importing structlog costs ~0.1 s at every start (its
development renderer loads rich's traceback module), more than the rest of a quick command.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import MutableMapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

MAX_BYTES = 10 * 1024 * 1024
BACKUP_COUNT = 5  # aiui.log plus aiui.log.1 ... aiui.log.5
REDACTED = "[REDACTED]"

_SENSITIVE_KEY = r"(token|secret|password|passwd|api[_-]?key|authorization|cookie)"  # matched ignoring case
_PATTERNS = [
    # Authorization: Bearer xyz / "Authorization": "Basic xyz" (headers in text or reprs)
    (r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer\s+|basic\s+|token\s+)?[^\s'\",}]+", r"\1\2" + REDACTED),
    (r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{6,}", r"\1" + REDACTED),
    # token=..., api_key=... anywhere; key=/sig= only as query parameters
    (
        r"(?i)(\b(?:access_)?token=|\bapi[_-]?key=|\bapikey=|[?&;](?:key|sig|signature)=)[^&#\s'\",]+",
        r"\1" + REDACTED,
    ),
    # Well-known token shapes: HuggingFace, GitHub.
    (r"\bhf_[A-Za-z0-9]{10,}\b", REDACTED),
    (r"\bgh[pousr]_[A-Za-z0-9]{20,}\b", REDACTED),
]


@functools.cache
def _compiled() -> tuple[re.Pattern[str], list[tuple[re.Pattern[str], str]]]:
    """The patterns above, compiled when the first line is redacted (not at import: ~3 ms of every
    command's start, which usually logs nothing)."""
    return re.compile(_SENSITIVE_KEY, re.I), [(re.compile(p), r) for p, r in _PATTERNS]


_known_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Redact this exact value wherever it appears in a log line from now on."""
    if value and len(value) >= 4:
        with _lock:
            _known_secrets.add(value)


def redact_text(text: str) -> str:
    for secret in sorted(_known_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _compiled()[1]:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(key: str | None, value: Any) -> Any:
    if key is not None and _compiled()[0].search(key) and value not in (None, "", False, True):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(None, v) for v in value]
    if value is None or isinstance(value, (int, float, bool)):
        return value
    return redact_text(repr(value) if not isinstance(value, Exception) else str(value))


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Mask secrets by key name and by content, everywhere in the event (a structlog-style processor)."""
    for key in list(event_dict):
        if key.startswith("_"):
            continue
        event_dict[key] = _redact_value(key if key not in ("event", "exception") else None, event_dict[key])
    return event_dict


_handler: logging.Handler | None = None
_FIELDS = "aiui_fields"  # the LogRecord attribute that carries a structured call's key=value pairs
_EVENT = "aiui_event"  # ... and the one with its event (the record's message has the fields too)


class BoundLogger:
    """A structured logger over a stdlib one: `log.info("event", key=value)`, like structlog's."""

    __slots__ = ("_context", "_logger")

    def __init__(self, logger: logging.Logger, context: dict[str, Any] | None = None) -> None:
        self._logger = logger
        self._context = context or {}

    def bind(self, **values: Any) -> BoundLogger:
        return BoundLogger(self._logger, {**self._context, **values})

    def new(self, **values: Any) -> BoundLogger:
        return BoundLogger(self._logger, dict(values))

    def unbind(self, *keys: str) -> BoundLogger:
        return BoundLogger(self._logger, {k: v for k, v in self._context.items() if k not in keys})

    def _log(self, level: int, event: Any, args: tuple, values: dict[str, Any]) -> None:
        if not self._logger.isEnabledFor(level):
            return
        exc_info = values.pop("exc_info", None)
        stack_info = bool(values.pop("stack_info", False))
        message = str(event)
        if args:  # structlog's positional arguments: %-formatting of the event
            message = message % args
        fields = {**self._context, **values}
        # Other handlers (pytest's caplog, a debugging StreamHandler) see the event with its fields.
        text = " ".join([message, *(f"{k}={v!r}" for k, v in fields.items())])
        extra = {_FIELDS: fields, _EVENT: message}
        self._logger.log(level, "%s", text, exc_info=exc_info, stack_info=stack_info, extra=extra, stacklevel=3)

    def debug(self, event: Any = "", *args: Any, **values: Any) -> None:
        self._log(logging.DEBUG, event, args, values)

    def info(self, event: Any = "", *args: Any, **values: Any) -> None:
        self._log(logging.INFO, event, args, values)

    msg = info

    def warning(self, event: Any = "", *args: Any, **values: Any) -> None:
        self._log(logging.WARNING, event, args, values)

    warn = warning

    def error(self, event: Any = "", *args: Any, **values: Any) -> None:
        self._log(logging.ERROR, event, args, values)

    def critical(self, event: Any = "", *args: Any, **values: Any) -> None:
        self._log(logging.CRITICAL, event, args, values)

    fatal = critical

    def exception(self, event: Any = "", *args: Any, **values: Any) -> None:
        values.setdefault("exc_info", True)
        self._log(logging.ERROR, event, args, values)

    def log(self, level: int, event: Any = "", *args: Any, **values: Any) -> None:
        self._log(level, event, args, values)

    def isEnabledFor(self, level: int) -> bool:  # the stdlib logger's name
        return self._logger.isEnabledFor(level)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: event, the call's fields, level, logger, timestamp (UTC), then the
    traceback as `exception` (and `stack`); every value passed through the redactor."""

    def format(self, record: logging.LogRecord) -> str:
        event = getattr(record, _EVENT, None)
        data: dict[str, Any] = {"event": record.getMessage() if event is None else event}
        data.update(getattr(record, _FIELDS, None) or {})
        data["level"] = record.levelname.lower()
        data["logger"] = record.name
        data["timestamp"] = datetime.fromtimestamp(record.created, timezone.utc).isoformat().replace("+00:00", "Z")
        if record.stack_info:
            data["stack"] = record.stack_info
        if record.exc_info:
            data["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        elif record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(redact(None, "", data), default=str)


def _quiet_until_configured() -> None:
    """Before `setup_logging`, log records go nowhere: never to the terminal."""
    logging.getLogger().addHandler(logging.NullHandler())


_quiet_until_configured()


class _LogFile(logging.Handler):
    """The log file, rotated at `maxBytes` with `backupCount` older files: logging.handlers'
    RotatingFileHandler, made (and the file opened) at the first record. Importing logging.handlers
    (pickle, queue...) was ~9 ms of every command, and most commands log nothing."""

    def __init__(self, path: Path, *, max_bytes: int, backup_count: int) -> None:
        super().__init__()
        self.baseFilename = os.path.abspath(path)
        self.maxBytes = max_bytes
        self.backupCount = backup_count
        self._file: logging.Handler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self._file is None:
            import logging.handlers

            self._file = logging.handlers.RotatingFileHandler(
                self.baseFilename, maxBytes=self.maxBytes, backupCount=self.backupCount, encoding="utf-8", delay=True
            )
            self._file.setFormatter(self.formatter)
        self._file.emit(record)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        try:
            if self._file is not None:
                self._file.close()
        finally:
            super().close()


def setup_logging(log_file: Path, level: str = "INFO", *, max_bytes: int = MAX_BYTES) -> None:
    """Send all logging to `log_file` as redacted JSON lines, rotated at `max_bytes` (tests rotate
    small files); safe to call again (re-targets)."""
    global _handler
    handler = _LogFile(log_file, max_bytes=max_bytes, backup_count=BACKUP_COUNT)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    # Libraries sometimes attach stderr handlers at import; the terminal is not theirs.
    for h in list(root.handlers):
        if isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) in (sys.stderr, sys.stdout):
            root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Chatty libraries stay at WARNING unless we debug.
    for name in ("urllib3", "docker", "asyncio", "aiohttp.access"):
        logging.getLogger(name).setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING)
    logging.captureWarnings(True)
    # A log file that cannot be written (read-only disk, disk full) must not print tracebacks on
    # the terminal; the failure itself reaches the user through the command's own error.
    logging.raiseExceptions = False
    _handler = handler


def get_logger(name: str | None = None) -> BoundLogger:
    return BoundLogger(logging.getLogger(name))
