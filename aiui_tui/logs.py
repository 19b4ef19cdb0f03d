"""Structured logging: JSON lines in `logs/aiui.log`, rotated, with secrets redacted.

Everything (our structlog calls and the standard logging of aiohttp, docker, urllib3...) goes
through one stdlib handler, so redaction applies to every line, tracebacks included. Nothing is
written to the terminal: under the TUI the screen belongs to Textual.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
import threading
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import structlog

MAX_BYTES = 10 * 1024 * 1024
BACKUP_COUNT = 5  # aiui.log plus aiui.log.1 ... aiui.log.5
REDACTED = "[REDACTED]"

_SENSITIVE_KEY = re.compile(r"(token|secret|password|passwd|api[_-]?key|authorization|cookie)", re.I)
_PATTERNS = [
    # Authorization: Bearer xyz / "Authorization": "Basic xyz" (headers in text or reprs)
    (
        re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer\s+|basic\s+|token\s+)?[^\s'\",}]+"),
        r"\1\2" + REDACTED,
    ),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{6,}"), r"\1" + REDACTED),
    # token=..., api_key=... anywhere; key=/sig= only as query parameters
    (
        re.compile(r"(?i)(\b(?:access_)?token=|\bapi[_-]?key=|\bapikey=|[?&;](?:key|sig|signature)=)[^&#\s'\",]+"),
        r"\1" + REDACTED,
    ),
    # Well-known token shapes: HuggingFace, GitHub.
    (re.compile(r"\bhf_[A-Za-z0-9]{10,}\b"), REDACTED),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}\b"), REDACTED),
]
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
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(key: str | None, value: Any) -> Any:
    if key is not None and _SENSITIVE_KEY.search(key) and value not in (None, "", False, True):
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
    """structlog processor: mask secrets by key name and by content, everywhere in the event."""
    for key in list(event_dict):
        if key.startswith("_"):
            continue
        event_dict[key] = _redact_value(key if key not in ("event", "exception") else None, event_dict[key])
    return event_dict


_handler: logging.Handler | None = None


def _quiet_until_configured() -> None:
    """Before `setup_logging`, log records go nowhere: never to the terminal."""
    logging.getLogger().addHandler(logging.NullHandler())
    structlog.configure(
        processors=[structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


_quiet_until_configured()


def setup_logging(log_file: Path, level: str = "INFO", *, max_bytes: int = MAX_BYTES) -> None:
    """Send all logging to `log_file` as redacted JSON lines, rotated at `max_bytes` (tests rotate
    small files); safe to call again (re-targets)."""
    global _handler
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        timestamper,
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            structlog.processors.JSONRenderer(default=str),
        ],
    )
    handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=max_bytes, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
    )
    handler.setFormatter(formatter)
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


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
