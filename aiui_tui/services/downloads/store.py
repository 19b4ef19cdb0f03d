"""The persistent download queue: SQLite in WAL mode under `state/downloads.sqlite`.

Every change is one transaction, so `kill -9` at any moment leaves a loadable queue. Several
processes share it (the dashboard, `aiui-tui downloads ...` in another shell); `data_version` tells a
process that another one changed something. Methods block: call them from a thread.

A download that fills the disk must still record why it stopped, and the queue's own file is often
on that disk. So the store keeps a small reserve file beside the database: when a write that
matters fails for want of space, the reserve is given up and the write tried once more; it is made
again when the store next opens with room to spare. Progress saves (`save_progress`) never use it:
they are skipped while the disk is full. A write that still fails is one `DiskFull` error.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import fields
from pathlib import Path
from types import TracebackType
from typing import Any

from aiui_tui.core.downloads import ACTIVE, DONE, PENDING, DownloadItem
from aiui_tui.core.errors import UsageError
from aiui_tui.logs import get_logger
from aiui_tui.services import sqlite
from aiui_tui.services.downloads.errors import DiskFull

log = get_logger(__name__)
RESERVE_BYTES = 512 * 1024  # a few hundred WAL frames: far more than pausing an item writes
_SQLITE_FULL = 13

SCHEMA = """
CREATE TABLE IF NOT EXISTS downloads (
    id TEXT PRIMARY KEY,
    position REAL NOT NULL,
    url TEXT NOT NULL,
    dest_dir TEXT NOT NULL,
    name TEXT,
    kind TEXT,
    sha256 TEXT,
    size INTEGER,
    source TEXT NOT NULL DEFAULT '{}',
    connections INTEGER,
    retries INTEGER,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    fix TEXT NOT NULL DEFAULT '',
    done_bytes INTEGER NOT NULL DEFAULT 0,
    total_bytes INTEGER,
    speed REAL,
    owner_pid INTEGER,
    result_sha256 TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
-- Two unfinished downloads to one file are refused, not interleaved.
CREATE UNIQUE INDEX IF NOT EXISTS one_download_per_target
    ON downloads(dest_dir, name) WHERE name IS NOT NULL AND state != 'done';
"""
# Columns added after the first release, with their declaration: added to an older queue when it opens.
ADDED_COLUMNS = {"attempts": "INTEGER NOT NULL DEFAULT 0"}
_COLUMNS = [f.name for f in fields(DownloadItem)]


class QueueStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.reserve = path.with_name(path.name + ".reserve")
        self._lock = threading.Lock()
        self._db = sqlite.connect(path)

        def create() -> None:
            with self._tx() as db:
                for statement in _statements(SCHEMA):
                    db.execute(statement)
                columns = {row[1] for row in db.execute("PRAGMA table_info(downloads)")}
                for column, declaration in ADDED_COLUMNS.items():  # a queue made by an earlier version
                    if column not in columns:
                        db.execute(f"ALTER TABLE downloads ADD COLUMN {column} {declaration}")

        self._write(create)
        _make_reserve(self.reserve)

    def _tx(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def data_version(self) -> int:
        """Changes when another connection (process) commits."""
        with self._lock:
            version: int = self._db.execute("PRAGMA data_version").fetchone()[0]
            return version

    # -- reads --------------------------------------------------------------------------------
    def items(self) -> list[DownloadItem]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM downloads ORDER BY position").fetchall()
        return [_item(r) for r in rows]

    def get(self, item_id: str) -> DownloadItem | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM downloads WHERE id = ?", (item_id,)).fetchone()
        return _item(row) if row else None

    def resolve(self, prefix: str) -> DownloadItem:
        """An item by id or unique id prefix (as shown by `downloads list`)."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM downloads WHERE id LIKE ? || '%'", (prefix,)).fetchall()
        if len(rows) != 1:
            what = "No download" if not rows else f"{len(rows)} downloads"
            raise UsageError(f"{what} with id {prefix!r}.", "see the ids with `aiui-tui downloads list`")
        return _item(rows[0])

    def unfinished_for(self, dest_dir: str, name: str) -> DownloadItem | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM downloads WHERE dest_dir = ? AND name = ? AND state != ?", (dest_dir, name, DONE)
            ).fetchone()
        return _item(row) if row else None

    def unfinished_for_url(self, dest_dir: str, url: str) -> DownloadItem | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM downloads WHERE dest_dir = ? AND url = ? AND state != ? ORDER BY position",
                (dest_dir, url, DONE),
            ).fetchone()
        return _item(row) if row else None

    # -- writes -------------------------------------------------------------------------------
    def _add(self, item_id: str, values: dict[str, Any]) -> None:
        now = time.time()
        with self._tx() as db:
            top = db.execute("SELECT COALESCE(MAX(position), 0) FROM downloads").fetchone()[0]
            row = {"id": item_id, "position": top + 1, "state": PENDING, "created_at": now, "updated_at": now, **values}
            row["source"] = json.dumps(row.get("source") or {})
            names = ", ".join(row)
            try:
                db.execute(f"INSERT INTO downloads ({names}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
            except sqlite3.IntegrityError:
                raise UsageError(
                    f"{values.get('name')} is already being downloaded to {values.get('dest_dir')}.",
                    "see it with `aiui-tui downloads list`",
                ) from None

    def add(self, **values: Any) -> DownloadItem:
        item_id = uuid.uuid4().hex[:12]
        self._write(lambda: self._add(item_id, values))
        item = self.get(item_id)
        assert item is not None
        return item

    def update(self, item_id: str, **values: Any) -> DownloadItem | None:
        self._write(lambda: self._update(item_id, values))
        return self.get(item_id)

    def save_progress(self, item_id: str, **values: Any) -> None:
        """Progress for other processes' views: skipped (not an error) while the disk is full."""
        try:
            self._write(lambda: self._update(item_id, values), essential=False)
        except DiskFull:
            log.debug("progress not saved: the disk is full", id=item_id)

    def _update(self, item_id: str, values: dict[str, Any]) -> None:
        values = dict(values)
        if "source" in values:
            values["source"] = json.dumps(values["source"])
        values["updated_at"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in values)
        try:
            with self._tx() as db:
                db.execute(f"UPDATE downloads SET {sets} WHERE id = ?", [*values.values(), item_id])
        except sqlite3.IntegrityError:
            raise UsageError(
                f"{values.get('name')} is already being downloaded to that folder.",
                "see it with `aiui-tui downloads list`",
            ) from None

    def delete(self, item_id: str) -> None:
        def delete() -> None:
            with self._tx() as db:
                db.execute("DELETE FROM downloads WHERE id = ?", (item_id,))

        self._write(delete)

    def move(self, item_id: str, delta: int) -> None:
        self._write(lambda: self._move(item_id, delta))

    def _move(self, item_id: str, delta: int) -> None:
        """Swap the item with its neighbour `delta` places up (-) or down (+) the queue."""
        with self._tx() as db:
            order = [r[0] for r in db.execute("SELECT id FROM downloads ORDER BY position")]
            if item_id not in order:
                return
            i = order.index(item_id)
            j = max(0, min(len(order) - 1, i + delta))
            order.insert(j, order.pop(i))
            for position, other in enumerate(order, start=1):
                db.execute("UPDATE downloads SET position = ? WHERE id = ?", (position, other))

    def recover(self) -> list[str]:
        """Items left active by a process that died: back to pending (they resume from their part)."""
        recovered: list[str] = []
        self._write(lambda: self._recover(recovered))
        return recovered

    def _recover(self, recovered: list[str]) -> None:
        recovered.clear()
        with self._tx() as db:
            for row in db.execute("SELECT id, owner_pid FROM downloads WHERE state = ?", (ACTIVE,)).fetchall():
                if not _alive(row["owner_pid"]):
                    db.execute(
                        "UPDATE downloads SET state = ?, owner_pid = NULL, reason = ?, updated_at = ? WHERE id = ?",
                        (PENDING, "interrupted; resumes from its part", time.time(), row["id"]),
                    )
                    recovered.append(row["id"])

    # -- a full disk --------------------------------------------------------------------------
    def _write(self, write: Any, *, essential: bool = True) -> Any:
        """Run `write` (one transaction); on a full disk give up the reserve and try once more."""
        try:
            return write()
        except Exception as exc:
            if not _disk_full(exc):
                raise
            if not essential or not _release(self.reserve):
                raise self._full() from exc
            log.warning("queue database: disk full, reserve released", path=str(self.path))
        try:
            return write()
        except Exception as exc:
            if not _disk_full(exc):
                raise
            raise self._full() from exc

    def _full(self) -> DiskFull:
        return DiskFull(
            f"The disk holding the download queue ({self.path.parent}) is full.",
            "free space on it, then retry (aiui-tui downloads list shows what stopped)",
        )


class _Transaction:
    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self.db = db
        self.lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")  # a locked or damaged database raises here
        except BaseException:
            self.lock.release()  # __exit__ does not run when __enter__ raises
            raise
        return self.db

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not exc_type:
                self.db.execute("COMMIT")
            elif self.db.in_transaction:  # SQLite ends the transaction itself on some errors (a full disk)
                self.db.execute("ROLLBACK")
        finally:
            self.lock.release()


def _statements(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _item(row: sqlite3.Row) -> DownloadItem:
    keys = set(row.keys())
    data = {k: row[k] for k in _COLUMNS if k in keys}
    data["source"] = json.loads(data.get("source") or "{}")
    return DownloadItem(**data)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _disk_full(exc: BaseException | None) -> bool:
    """Whether SQLite failed for want of space (SQLITE_FULL), as raised or as wrapped by another error."""
    seen = 0
    while exc is not None and seen < 4:
        if isinstance(exc, sqlite3.Error):
            code = getattr(exc, "sqlite_errorcode", None)
            if (code is not None and code & 0xFF == _SQLITE_FULL) or "database or disk is full" in str(exc):
                return True
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _make_reserve(path: Path) -> None:
    """Best effort: a file of RESERVE_BYTES whose blocks are really allocated (not sparse)."""
    if path.exists():
        return
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            try:
                os.posix_fallocate(fd, 0, RESERVE_BYTES)
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                os.write(fd, bytes(RESERVE_BYTES))  # a file system without fallocate: real zeros
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _release(path: Path) -> bool:
    try:
        path.unlink()
    except OSError:
        return False
    return True
