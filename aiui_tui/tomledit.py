"""Reading and editing the user's TOML files: errors with line numbers, edits that keep comments.

Used for `config/aiui.toml`, `config/secrets.toml`, plugin settings and app manifests.
"""

from __future__ import annotations

import codecs
import errno
import os
import pwd
import re
import stat
from collections.abc import Iterable, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiui_tui.core.errors import AiuiError, ConfigError
from aiui_tui.core.format import human_bytes
from aiui_tui.tomlcompat import tomllib

if TYPE_CHECKING:  # tomlkit (~50 ms) is imported by the functions that edit or report, not at start-up
    import tomlkit

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=""")


# Settings, secrets and manifests are a few KiB; anything past this is not one (a 50 MB file took
# tomlkit 26 s and 300 MB), so it is refused before it is read.
MAX_TOML_BYTES = 1 << 20
_BOM = "\ufeff"


def parse_document(path: Path, text: str | None = None) -> tomlkit.TOMLDocument:
    """Parse a TOML file with tomlkit; a syntax error becomes a ConfigError with line and column.

    A leading byte order mark is accepted and dropped: TOML 1.0's grammar has none, but Windows
    editors (Notepad before 2019, PowerShell 5's `Set-Content -Encoding UTF8`) write one, it
    carries no content, and refusing an invisible character would only puzzle (tomlkit called it
    "line 1: Empty key"). Files we write back have none.
    """
    if text is None:
        text = read_text(path)
    elif len(text) > MAX_TOML_BYTES:
        raise _too_big(path, len(text), ConfigError)
    text = text.removeprefix(_BOM)
    import tomlkit
    import tomlkit.exceptions

    try:
        return tomlkit.parse(text)
    except (tomlkit.exceptions.TOMLKitError, ValueError, RecursionError) as exc:
        raise syntax_error(path, text, exc) from None


def syntax_error(path: Path, text: str, exc: Exception) -> ConfigError:
    """One line with the line and column: tomlkit's words, or tomllib's where it places the error earlier.

    tomlkit reports a key repeated inside a table (KeyAlreadyPresent) with no position, and a
    repeated table one line late; the standard library's parser places both exactly.
    """
    detail = str(exc).split(" at line ")[0].rstrip(".") or type(exc).__name__
    import tomlkit.exceptions

    line: int | None = getattr(exc, "line", None) if isinstance(exc, tomlkit.exceptions.ParseError) else None
    column: int | None = getattr(exc, "col", None) if line else None
    reference = _reference_error(text)
    if reference and (line is None or reference[1] < line):
        ref_detail, line, column = reference
        # A key set twice: tomlkit's words name the key (up to 0.15.2 a KeyAlreadyPresent without a
        # place, from 0.15.3 a ParseError at column 0); tomllib's place.
        repeated = isinstance(exc, tomlkit.exceptions.KeyAlreadyPresent) or (
            ref_detail.startswith("this key is already set above") and re.match(r'Key ".*" already exists', detail)
        )
        if not repeated:
            detail = ref_detail
    elif reference and reference[1] == line and not column:
        column = reference[2]  # the same line: tomllib's column (tomlkit's 0 says none)
    where = f"{path} line {line}" + (f", column {column}" if column else "") if line else str(path)
    return ConfigError(f"{where}: TOML syntax error: {detail}.", "correct that line (the file was left as it is)")


def _reference_error(text: str) -> tuple[str, int, int] | None:
    """(detail, line, column) from tomllib, None when it accepts the text or cannot say where."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", str(exc), re.S)
        if not found:
            return None
        detail = found.group(1)
        if detail == "Cannot overwrite a value":
            detail = "this key is already set above (a key appears once per table)"
        elif twice := re.fullmatch(r"Cannot declare \((.*)\) twice", detail):
            names = re.findall(r"'((?:[^'\\]|\\.)*)'", twice.group(1))
            detail = f"table [{'.'.join(names)}] is declared twice"
        return detail, int(found.group(2)), int(found.group(3))
    except (ValueError, RecursionError):  # over-long integers, deep nesting: tomlkit's words stand
        return None
    return None


def read_text(path: Path, *, limit: int = MAX_TOML_BYTES, error: type[AiuiError] = ConfigError) -> str:
    """A settings file's text: a regular file (links followed) of at most `limit` bytes, in UTF-8.

    Nothing is read from a named pipe, a device or a file over the limit; every refusal is one
    `error` naming the file and the fix. A leading byte order mark is dropped.
    """
    try:
        # O_NONBLOCK: opening a named pipe must not wait for a writer; regular files ignore it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise open_error(path, exc, error) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = file_kind(st.st_mode)
            raise error(f"{path} is {what}, but a TOML file is expected.", f"move it away: mv {path} {path}.bak")
        if st.st_size > limit:
            raise _too_big(path, st.st_size, error, limit)
        chunks = []
        remaining = limit + 1
        while remaining > 0 and (chunk := os.read(fd, min(remaining, 1 << 16))):
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        raise error(f"{path} cannot be read: {exc.strerror}.", "check the disk and the file") from None
    finally:
        os.close(fd)
    if len(data) > limit:  # it grew since fstat
        raise _too_big(path, len(data), error, limit)
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(
            f"{path} line {line}, column {column}: not UTF-8 text (byte 0x{data[exc.start]:02x}).",
            "save the file as UTF-8 (the file was left as it is)",
        ) from None


def file_status(path: Path, error: type[AiuiError] = ConfigError) -> os.stat_result | None:
    """The file's status (links followed); None when nothing is there, not even a link.

    A dangling link or a loop of links is an error: silently using defaults instead would hide it.
    """
    try:
        return os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise open_error(path, FileNotFoundError(errno.ENOENT, "No such file or directory"), error) from None
        return None
    except OSError as exc:
        raise open_error(path, exc, error) from None


def open_error(path: Path, exc: OSError, error: type[AiuiError] = ConfigError) -> AiuiError:
    """One line for a settings file that cannot be opened, with the fix for that cause."""
    if exc.errno == errno.ELOOP:
        return error(
            f"{path} is a loop of symbolic links ({path} -> {_readlink(path)}).",
            f"point the link at a real file, or remove it: rm {path}",
        )
    if exc.errno == errno.ENOENT and os.path.islink(path):
        return error(
            f"{path} is a link to {_readlink(path)}, which does not exist.",
            f"restore the link's target, or remove the link: rm {path}",
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        try:
            owner = os.stat(path).st_uid
        except OSError:
            return error(
                f"{path} cannot be reached: a parent folder denies access.",
                f"give yourself access to its folders (ls -ld {path.parent})",
            )
        me = os.geteuid()
        if owner != me:
            return error(
                f"{path} cannot be read: it belongs to {user_name(owner)}, not to you ({user_name(me)}).",
                f"take it back: sudo chown {chown_arg(me)}: {path}",
            )
        return error(f"{path} cannot be read: permission denied.", f"chmod u+r {path}")
    return error(f"{path} cannot be opened: {exc.strerror}.", f"check {path} and its folder")


def _too_big(path: Path, size: int, error: type[AiuiError], limit: int = MAX_TOML_BYTES) -> AiuiError:
    return error(
        f"{path} is {human_bytes(size)}, larger than a settings file can be ({human_bytes(limit)}); it was not read.",
        f"check that it is the file you meant (these are a few KiB); move it away: mv {path} {path}.bak",
    )


def _readlink(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def file_kind(mode: int) -> str:
    """What a path that is not a regular file is, in words (for one-line refusals)."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def chown_arg(uid: int) -> str:
    """The owner as chown takes it: the name, or the number when the user has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def validation_error(path: Path, text: str, exc: Any) -> ConfigError:
    """Turn pydantic's error list (`exc.errors()`: a ValidationError or aiui_tui.schema's
    InvalidSettings) into one line naming file, line and key."""
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
    if not keys or not all(k.strip() for k in keys):
        raise ConfigError(f"{'.'.join(keys)!r} is not a setting's name.", "run `aiui-tui config show` to list the keys")
    import tomlkit

    container: Any = doc
    for part in keys[:-1]:
        if part not in container:
            container[part] = tomlkit.table()
        container = container[part]
        if not isinstance(container, MutableMapping):  # a number, a string, a list
            raise ConfigError(f"{'.'.join(keys)}: {part} is a value, not a table.", "use another key")
    container[keys[-1]] = value


def parse_cli_value(raw: str) -> Any:
    """`8190` -> 8190, `true` -> True, `["a"]` -> list; anything that is not a TOML value is a string."""
    try:
        import tomlkit

        return tomlkit.parse(f"v = {raw}")["v"].unwrap()
    except Exception:
        return raw


def atomic_write(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write `text` to a temporary file beside `path`, fsync it, then rename it into place.

    A crash leaves either the old or the new file, never half of one. The file's mode is kept
    (or set to `mode` for a new file), and its owner when root writes it. A link at `path` is
    replaced by the file: `write_settings` writes a link's target instead.
    """
    try:
        old: os.stat_result | None = path.stat()
    except FileNotFoundError:
        old = None
    if mode is None:
        mode = old.st_mode & 0o777 if old else 0o644
    import tempfile  # here: its import (random, hashlib) is ~3 ms of every command that only reads settings

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        if old is not None and os.geteuid() == 0 and (old.st_uid, old.st_gid) != (0, 0):
            os.fchown(fd, old.st_uid, old.st_gid)  # root (sudo) editing a user's file leaves it theirs
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


def write_settings(path: Path, text: str, *, mode: int | None = None, error: type[AiuiError] = ConfigError) -> None:
    """Write a user's settings file atomically; a symbolic link is kept and its target written.

    A failure (a read-only folder, a full disk) is one `error` naming the file.
    """
    target = Path(os.path.realpath(path)) if os.path.islink(path) else path
    try:
        atomic_write(target, text, mode=mode)
    except OSError as exc:
        raise error(
            f"{target} cannot be written: {exc.strerror}; it was left as it is.",
            f"check that you can write to its folder (ls -ld {target.parent}) and that the disk has room",
        ) from None
