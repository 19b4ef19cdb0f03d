"""Safe file names for downloads: from the request, Content-Disposition or the URL.

A name never contains a path separator, `..`, a control character or a leading dot, so the file
always lands inside its destination folder.
"""

from __future__ import annotations

import re
import unicodedata
from email.message import Message
from pathlib import Path
from urllib.parse import unquote, urlsplit

from aiui_tui.core.errors import UsageError

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")
MAX_NAME = 200


def sanitize_filename(raw: str) -> str:
    """`../../etc/passwd` -> `passwd`; `a/b\\c.safetensors` -> `c.safetensors`; control chars removed."""
    name = unicodedata.normalize("NFC", raw)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]  # only the last path component counts
    name = _UNSAFE.sub("_", name).strip().strip(".")
    name = re.sub(r"\s+", " ", name)
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: MAX_NAME - len(ext) - 1] + dot + ext) if dot and len(ext) < 16 else name[:MAX_NAME]
    return name


def name_from_content_disposition(header: str | None) -> str | None:
    """The file name of a Content-Disposition header (RFC 6266, `filename*` preferred)."""
    if not header:
        return None
    msg = Message()
    msg["content-disposition"] = header
    name = msg.get_filename()  # decodes filename*=UTF-8''... too
    return name or None


def name_from_url(url: str) -> str | None:
    path = urlsplit(url).path
    last = unquote(path.rstrip("/").rsplit("/", 1)[-1]) if path else ""
    return last or None


def choose_name(requested: str | None, content_disposition: str | None, url: str) -> str:
    for candidate in (requested, name_from_content_disposition(content_disposition), name_from_url(url)):
        if candidate:
            name = sanitize_filename(candidate)
            if name:
                return name
    raise UsageError(f"No file name can be derived from {url}.", "give one with --name NAME")


def safe_target(dest_dir: Path, name: str) -> Path:
    """`dest_dir / name`, refusing anything that would resolve outside `dest_dir`."""
    clean = sanitize_filename(name)
    if not clean or clean != name:
        raise UsageError(f"Unsafe file name {name!r}.", f"use a plain name such as {clean or 'model.safetensors'!r}")
    target = dest_dir / clean
    if target.resolve().parent != dest_dir.resolve():
        raise UsageError(f"{name!r} would land outside {dest_dir}.", "use a plain file name")
    return target
