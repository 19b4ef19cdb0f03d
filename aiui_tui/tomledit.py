"""Reading and editing the user's TOML files: errors with line numbers, edits that keep comments.

Used for `config/aiui.toml`, `config/secrets.toml`, plugin settings and app manifests.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from pydantic import ValidationError

from aiui_tui.core.errors import ConfigError

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=""")


def parse_document(path: Path, text: str | None = None) -> tomlkit.TOMLDocument:
    """Parse a TOML file with tomlkit; a syntax error becomes a ConfigError with line and column."""
    if text is None:
        text = read_text(path)
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        detail = str(exc).split(" at line ")[0].rstrip(".")
        column = f", column {exc.col}" if exc.col else ""
        raise ConfigError(
            f"{path} line {exc.line}{column}: TOML syntax error: {detail}.",
            "correct that line (the file was left as it is)",
        ) from None


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text.", "save it as UTF-8") from None
    except PermissionError:
        raise ConfigError(f"{path} cannot be read: permission denied.", f"chmod u+r {path}") from None
    except IsADirectoryError:
        raise ConfigError(
            f"{path} is a folder, but a TOML file is expected.", f"move it away: mv {path} {path}.bak"
        ) from None


def validation_error(path: Path, text: str, exc: ValidationError) -> ConfigError:
    """Turn pydantic's error list into one line naming file, line and key."""
    errors = exc.errors()
    first = errors[0]
    loc = [str(p) for p in first["loc"]]
    key = ".".join(loc) or "(top level)"
    line = key_line(text, loc)
    where = f"{path} line {line}" if line else str(path)
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key (a typo?)"
    elif first["type"] == "missing":
        msg = "required key is missing"
    elif "input" in first and not isinstance(first["input"], (dict, list)):
        msg = f"{msg} (got {first['input']!r})"
    more = (
        f" ({len(errors) - 1} more problem{'s' if len(errors) > 2 else ''} after this one)" if len(errors) > 1 else ""
    )
    fix = (
        "remove or rename that key"
        if first["type"] == "extra_forbidden"
        else "correct the value (the file was left as it is)"
    )
    return ConfigError(f"{where}, key {key}: {msg}.{more}", fix)


def key_line(text: str, loc: Sequence[str]) -> int | None:
    """The 1-based line where the dotted key `loc` (or its nearest parent) is defined."""
    table: list[str] = []
    best: tuple[int, int] | None = None  # (matched depth, line)
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _split_key(header.group(1))
            depth = _common_prefix(table, loc)
            if depth == len(table) and (best is None or depth > best[0]):
                best = (depth, number)
            continue
        key = _KEY.match(line)
        if key:
            full = table + _split_key(key.group(1))
            depth = _common_prefix(full, loc)
            if depth == len(full) and (best is None or depth > best[0]):
                best = (depth, number)
    return best[1] if best else None


def _split_key(dotted: str) -> list[str]:
    parts = re.findall(r'"[^"]*"|\'[^\']*\'|[^.\s]+', dotted)
    return [p.strip("\"'") for p in parts]


def _common_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def set_in_document(doc: tomlkit.TOMLDocument, dotted_key: Iterable[str], value: Any) -> None:
    """Set a value, creating tables on the way; existing comments and layout stay."""
    keys = list(dotted_key)
    container: Any = doc
    for part in keys[:-1]:
        if part not in container:
            container[part] = tomlkit.table()
        container = container[part]
        if not hasattr(container, "__setitem__"):
            raise ConfigError(f"{'.'.join(keys)}: {part} is a value, not a table.", "use another key")
    container[keys[-1]] = value


def parse_cli_value(raw: str) -> Any:
    """`8190` -> 8190, `true` -> True, `["a"]` -> list; anything that is not a TOML value is a string."""
    try:
        return tomlkit.parse(f"v = {raw}")["v"].unwrap()
    except Exception:
        return raw


def atomic_write(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write `text` to a temporary file beside `path`, fsync it, then rename it into place.

    A crash leaves either the old or the new file, never half of one. The file's mode is kept
    (or set to `mode` for a new file).
    """
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
