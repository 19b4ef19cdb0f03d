"""Safe file names for downloads: from the request, Content-Disposition or the URL.

A name never contains a path separator, `..`, a control or format character (bidi overrides such
as U+202E, zero-width characters) or a leading dot, so the file always lands inside its destination
folder, shows what it is, and never collides with our hidden part files (parts.py). It is at most
MAX_NAME_BYTES in UTF-8, so those part names (`.NAME.ID.aiui-part.json.tmp`) stay within the 255
bytes a Linux file name may have.
"""

from __future__ import annotations

import re
import unicodedata
from email.message import Message
from pathlib import Path
from urllib.parse import unquote, urlsplit

from aiui_tui.core.errors import UsageError

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")
# Removed outright: format characters (Cf: bidi controls, zero-width joiners and spaces, BOM, tags) and
# surrogates (Cs: undecodable bytes a header smuggled in), which no file system name should carry.
_INVISIBLE = ("Cf", "Cs")
MAX_NAME_BYTES = 200  # UTF-8 bytes; 255 minus room for `.` + `.ID` + `.aiui-part.json.tmp`
MAX_EXT_CHARS = 16


def sanitize_filename(raw: str) -> str:
    """`../../etc/passwd` -> `passwd`; `a/b\\c.safetensors` -> `c.safetensors`; control chars removed."""
    name = unicodedata.normalize("NFC", raw)
    name = "".join(c for c in name if unicodedata.category(c) not in _INVISIBLE)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]  # only the last path component counts
    name = _UNSAFE.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip().strip(".").strip()
    return _fit(name)


def _fit(name: str) -> str:
    """`name` cut to MAX_NAME_BYTES of UTF-8 on a character boundary, keeping a short extension."""
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    if not (dot and stem and len(ext) <= MAX_EXT_CHARS):
        stem, dot, ext = name, "", ""
    room = MAX_NAME_BYTES - len((dot + ext).encode())
    cut = stem.encode()[:room].decode("utf-8", "ignore")  # never half a character
    return (cut.rstrip(" .") + dot + ext) if cut.strip(" .") else _fit_ext(dot + ext)


def _fit_ext(ext: str) -> str:
    return ext.encode()[:MAX_NAME_BYTES].decode("utf-8", "ignore").strip(".")


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
