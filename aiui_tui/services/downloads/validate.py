"""The checks a download someone types goes through, shared by `download`, `downloads add` and the
dashboard's add dialog: what each accepts, and the one line each refusal says."""

from __future__ import annotations

import re
from pathlib import Path

from aiui_tui.core.errors import UsageError
from aiui_tui.core.requests import DownloadRequest
from aiui_tui.kinds import kind_names
from aiui_tui.services.downloads.urls import url_problem

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
MAX_CONNECTIONS = 16
MAX_RETRIES = 20


def make_request(
    url: str,
    *,
    kind: str | None = None,
    dest: str | Path | None = None,
    name: str | None = None,
    sha256: str | None = None,
    connections: int | None = None,
    retries: int | None = None,
) -> DownloadRequest:
    """A request for `url`, or UsageError saying what is wrong and how to put it right.

    Destination: `dest` when given, else the library's `models/KIND/` for `kind`, else the current
    folder. Empty strings count as not given (a dialog's blank fields).
    """
    url = url.strip()
    problem = url_problem(url) if url else "it is empty"
    if problem is not None:
        raise UsageError(f"Not an http(s) URL: {url!r}: {problem}.", "give the full URL, starting with https://")
    kind = (kind or "").strip() or None
    if kind is not None and kind not in kind_names():
        raise UsageError(f"Unknown model kind {kind!r}.", f"use one of: {', '.join(kind_names())}")
    if dest and kind:
        raise UsageError("Give a folder or a kind, not both.", "a kind saves into the library's models/KIND/ folder")
    sha256 = (sha256 or "").strip() or None
    if sha256 is not None and not _SHA256.match(sha256):
        raise UsageError("The sha256 must be 64 hexadecimal characters.", "copy the full sha256 from the model page")
    if connections is not None and not 1 <= connections <= MAX_CONNECTIONS:
        raise UsageError(f"Connections must be between 1 and {MAX_CONNECTIONS}.", "use --connections 4")
    if retries is not None and not 0 <= retries <= MAX_RETRIES:
        raise UsageError(f"Retries must be between 0 and {MAX_RETRIES}.", "use --retries 3")
    name = (name or "").strip() or None
    return DownloadRequest(
        url=url,
        kind=kind,
        dest_dir=Path(dest).expanduser() if dest else (None if kind else Path.cwd()),
        name=name,
        sha256=sha256.lower() if sha256 else None,
        connections=connections,
        retries=retries,
        source={"type": "url"},
    )
