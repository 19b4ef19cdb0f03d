"""Refuse bodies that are not model files before they are saved under a model's name.

Users of other tools lose hours to "models" that are really a login page or a JSON error served
with 200. The checks: the content type, the first bytes, and the size against the expected one.
"""

from __future__ import annotations

from aiui_tui.core.format import human_bytes
from aiui_tui.services.downloads.errors import NotAModel

_PAGE_TYPES = ("text/html", "application/xhtml", "application/json", "application/problem+json")
_PAGE_STARTS = (b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")
_TEXT_EXTENSIONS = (".json", ".txt", ".yaml", ".yml", ".md", ".html", ".csv", ".toml")


def check_headers(content_type: str | None, total: int | None, expected_size: int | None, name: str) -> None:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind.startswith(_PAGE_TYPES) and not name.lower().endswith(_TEXT_EXTENSIONS):
        raise NotAModel(
            f"The server answered a web page ({kind}) instead of {name}.",
            "it is usually a login or error page: check the URL, and set the site's token if it needs one",
        )
    if expected_size and total is not None and total != expected_size:
        raise NotAModel(
            f"The server sends {human_bytes(total)} ({total} bytes) but {name} should be "
            f"{human_bytes(expected_size)} ({expected_size} bytes).",
            "the URL points at another file or an error page; check it",
        )


def check_first_bytes(head: bytes, name: str) -> None:
    """Called with at least the first 512 bytes (or the whole body when shorter)."""
    if name.lower().endswith(_TEXT_EXTENSIONS):
        return
    if name.lower().endswith(".safetensors") and len(head) >= 9:
        header_len = int.from_bytes(head[:8], "little")
        if not (2 <= header_len <= 100_000_000) or head[8:9] != b"{":  # safetensors' limit: bytes, not MiB
            raise NotAModel(
                f"The server sent something that is not a safetensors file for {name} (starts with {head[:24]!r}).",
                "check the URL and the site's token",
            )
        return
    start = head.lstrip()[:64].lower()
    if start.startswith(_PAGE_STARTS):
        raise NotAModel(
            f"The server sent an HTML page instead of {name}.",
            "it is usually a login or error page: check the URL and the site's token",
        )
    if start.startswith(b"{") and (b'"error' in head[:512].lower() or b'"message' in head[:512].lower()):
        raise NotAModel(
            f"The server sent a JSON error instead of {name}: {head[:160].decode('utf-8', 'replace')}",
            "check the URL and the site's token",
        )
