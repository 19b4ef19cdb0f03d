"""How every persistent store opens SQLite: WAL, synchronous=NORMAL, a busy timeout, one lock.

WAL with synchronous=NORMAL keeps committed transactions through a crash of the application; the
busy timeout lets the dashboard and a CLI command share a file. Never put these files on NFS.

A database that cannot be used is the user's environment, not a bug: a damaged or truncated file,
one we cannot write (its mode, its owner, its folder, a read-only disk), one another process keeps
locked, a full disk. Each becomes one `DatabaseProblem` (or the folder's `PathProblem`) naming the
file and the fix, and the file is left as it is. `connect` finds what it can before writing
anything (the path, the permissions, `PRAGMA quick_check`); the connection it returns classifies
the sqlite3 errors of every later statement the same way, so a lock met at the first write or a
page damaged later reads the same.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

from aiui_tui.core.errors import AiuiError, DatabaseProblem
from aiui_tui.paths import folder_problem, read_only_fs
from aiui_tui.tomledit import chown_arg, file_kind, user_name

BUSY_TIMEOUT_S = 10
# Primary result codes (https://sqlite.org/rescode.html).
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _PROTOCOL, _NOLCK, _NOTADB = (
    3,
    5,
    6,
    8,
    10,
    11,
    13,
    14,
    15,
    16,
    26,
)


def connect(path: Path) -> sqlite3.Connection:
    """A connection usable from any thread (callers serialise with their own lock), autocommit mode.

    Raises DatabaseProblem (or PathProblem for its folder) when the file cannot be used.
    """
    path = Path(path)
    check_file(path)
    try:
        db = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None, factory=Connection
        )
    except sqlite3.Error as exc:
        problem = classify(path, exc)
        if problem is None:
            raise
        raise problem from exc
    db.path = path
    try:
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        # Every page read once, before anything is written: a damaged file is refused untouched. It
        # reads the whole file: about 65 ms for a 26 MB index of 50,000 models, a few ms for usual ones.
        verdict = db.execute("PRAGMA quick_check(1)").fetchone()[0]
        if verdict != "ok":
            raise damaged(path, " ".join(verdict.replace("*** in database main ***", "").split()))
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        db.close()
        raise
    return db


def _classified(method: Any) -> Any:
    """`method`, raising DatabaseProblem instead of the sqlite3 errors that `classify` knows."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            if isinstance(self, sqlite3.Cursor):
                # The error's traceback keeps this cursor alive in a cycle until the collector runs,
                # and with it its statement: a closed connection would keep its files open till then.
                with contextlib.suppress(sqlite3.Error):
                    self.close()
            path = getattr(self, "path", None) or getattr(getattr(self, "connection", None), "path", None)
            problem = classify(path, exc) if path is not None else None
            if problem is None:
                raise
            raise problem from exc

    return wrapper


class Cursor(sqlite3.Cursor):
    """Rows are stepped lazily: a damaged page can surface while fetching, not only at execute."""

    execute = _classified(sqlite3.Cursor.execute)
    executemany = _classified(sqlite3.Cursor.executemany)
    executescript = _classified(sqlite3.Cursor.executescript)
    fetchone = _classified(sqlite3.Cursor.fetchone)
    fetchmany = _classified(sqlite3.Cursor.fetchmany)
    fetchall = _classified(sqlite3.Cursor.fetchall)
    __next__ = _classified(sqlite3.Cursor.__next__)


class Connection(sqlite3.Connection):
    """sqlite3's connection whose statements raise DatabaseProblem for the file's own failures.

    Its execute methods go through our cursor (sqlite3's own build a plain cursor in C).
    """

    path: Path

    def cursor(self, factory: Any = Cursor) -> Any:
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        return self.cursor().executemany(sql, parameters)

    def executescript(self, script: str, /) -> Any:
        return self.cursor().executescript(script)

    commit = _classified(sqlite3.Connection.commit)
    rollback = _classified(sqlite3.Connection.rollback)


def classify(path: Path, exc: sqlite3.Error) -> AiuiError | None:
    """The typed error for a failure that is the file's or the machine's, None for our own bugs."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return None
    primary = code & 0xFF
    if primary in (_CORRUPT, _NOTADB):
        return damaged(path, str(exc))
    if primary in (_BUSY, _LOCKED):
        holders = lock_holders(path)
        by = f" (held by {', '.join(holders)})" if holders else ""
        return DatabaseProblem(
            f"{path} is locked by another process{by}; still locked after {BUSY_TIMEOUT_S} s.",
            "let it finish or stop it (the dashboard or another aiui-tui command), then run this again",
        )
    if primary in (_READONLY, _CANTOPEN, _PERM):
        problem = write_problem(path)
        if problem is not None:
            return problem
        what = "cannot be opened" if primary == _CANTOPEN else "cannot be written"
        return DatabaseProblem(
            f"{path} {what} ({exc}).",
            f"check that you can write to {path} and its folder {path.parent}, then run this again",
        )
    if primary == _FULL:
        return DatabaseProblem(f"{path} cannot grow: the disk is full.", "free some space, then run this again")
    if primary in (_NOLCK, _PROTOCOL):
        return DatabaseProblem(
            f"{path} cannot be locked ({exc}); network filesystems (NFS) break SQLite's locks.",
            "put the data root on a local disk: aiui-tui --root /local/disk/aiui",
        )
    if primary == _IOERR:
        problem = write_problem(path)
        if problem is not None:
            return problem
        return DatabaseProblem(
            f"{path}: disk I/O error ({getattr(exc, 'sqlite_errorname', exc)}).",  # the name: Python 3.11+
            f"check the disk (dmesg, df {path.parent}) and that its folder is writable, then run this again",
        )
    return None


def damaged(path: Path, detail: str) -> DatabaseProblem:
    return DatabaseProblem(
        f"{path} is damaged or not an SQLite database ({detail}); it was left as it is.",
        f"move it away (mv {path} {path}.broken) and aiui-tui starts a new, empty one;"
        f" `sqlite3 {path}.broken .recover` may save its rows",
    )


def check_file(path: Path) -> None:
    """Refuse what SQLite would fail on later or hang on: not a file, unwritable, a broken link."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise DatabaseProblem(
                f"{path} is a link to {os.readlink(path)}, which does not exist.",
                f"restore the link's target, or remove the link (rm {path}) and aiui-tui starts a new, empty one",
            ) from None
        folder = folder_problem(path.parent)
        if folder is not None:
            raise folder from None
        return
    except OSError as exc:
        raise DatabaseProblem(
            f"{path} cannot be opened: {exc.strerror}"
            + (" (a loop of symbolic links)." if exc.errno == errno.ELOOP else "."),
            f"remove it (rm {path}) and aiui-tui starts a new, empty one",
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise DatabaseProblem(
            f"{path} is {file_kind(st.st_mode)}, but a database file is expected there.",
            f"move it away (mv {path} {path}.bak), then run this again",
        )
    problem = write_problem(path)
    if problem is not None:
        raise problem


def write_problem(path: Path) -> AiuiError | None:
    """Why we cannot read and write the database, its -wal and -shm files or their folder; None if we can."""
    real = Path(os.path.realpath(path))
    for file in (real, Path(f"{real}-wal"), Path(f"{real}-shm")):
        try:
            st = os.stat(file)
        except OSError:
            continue
        if os.access(file, os.R_OK | os.W_OK):
            continue
        if read_only_fs(file):
            return DatabaseProblem(
                f"{file} is on a read-only filesystem.",
                "remount it read-write, or choose another data root with --root DIR or AIUI_ROOT",
            )
        me = os.geteuid()
        if st.st_uid != me:
            return DatabaseProblem(
                f"{file} belongs to {user_name(st.st_uid)}, not to you ({user_name(me)}), and you cannot write to it"
                " (a command run with sudo leaves such files).",
                f"take it back: sudo chown {chown_arg(me)}: {file}",
            )
        return DatabaseProblem(f"{file} is read-only (mode {stat.filemode(st.st_mode)}).", f"chmod u+rw {file}")
    return folder_problem(real.parent)


def lock_holders(path: Path) -> list[str]:
    """Other processes holding locks on the database or its -wal/-shm files (Linux /proc/locks)."""
    inodes = set()
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            inodes.add(os.stat(file).st_ino)
        except OSError:
            pass
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    pids: list[int] = []
    for line in lines:
        fields = line.split()
        if "->" in fields:  # a waiter, not a holder
            continue
        try:
            pid, inode = int(fields[4]), int(fields[5].rsplit(":", 1)[1])
        except (IndexError, ValueError):
            continue
        if inode in inodes and pid > 0 and pid != os.getpid() and pid not in pids:
            pids.append(pid)
    return [_describe(pid) for pid in pids]


def _describe(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return f"pid {pid}"
    command = " ".join(" ".join(a.decode(errors="replace").split()) for a in argv if a)  # one line
    return f"pid {pid}: {command[:60]}" if command else f"pid {pid}"
