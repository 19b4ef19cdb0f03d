"""Which addresses are downloaded: well-formed http(s) URLs with a host, as aiohttp itself parses them.

Checked for what the user gives and for every redirect, so a bad address is one clear error at
once, never a ValueError from deep in the HTTP client nor a retried "connection failure".
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import yarl

SCHEMES = ("http", "https")
_HOST = re.compile(r"[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")  # name or IP literal


def url_problem(url: str) -> str | None:
    """Why `url` cannot be downloaded (not http(s), no host, a bad port...), or None when it can."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError when out of range or not a number
        host = yarl.URL(url).raw_host  # aiohttp's own parser: what it refuses, we refuse first
    except (ValueError, TypeError) as exc:
        return f"it is not a valid address ({exc})"
    if parts.scheme.lower() not in SCHEMES:
        return f"its scheme is {parts.scheme}:, not http(s)" if parts.scheme else "it has no http(s) scheme"
    if not host or not _HOST.fullmatch(host):
        return "it has no valid host name"
    return None
