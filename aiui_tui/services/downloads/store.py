"""The persistent download queue: SQLite in WAL mode under `state/downloads.sqlite`.

Every change is one transaction, so `kill -9` at any moment leaves a loadable queue. Several
processes share it (the dashboard, `aiui-tui queue ...` in another shell); `data_version` tells a
process that another one changed something. Methods block: call them from a thread.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import fields
from pathlib import Path
from typing import Any

from aiui_tui.core.downloads import ACTIVE, DONE, PENDING, DownloadItem
from aiui_tui.core.errors import UsageError
from aiui_tui.services import sqlite

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
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
-- Two unfinished downloads to one file are refused, not interleaved.
CREATE UNIQUE INDEX IF NOT EXISTS one_download_per_target
    ON downloads(dest_dir, name) WHERE name IS NOT NULL AND state != 'done';
"""
_COLUMNS = [f.name for f in fields(DownloadItem)]


class QueueStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite.connect(path)
        with self._tx() as db:
            for statement in _statements(SCHEMA):
                db.execute(statement)

    def _tx(self):
        return _Transaction(self._db, self._lock)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def data_version(self) -> int:
        """Changes when another connection (process) commits."""
        with self._lock:
            return self._db.execute("PRAGMA data_version").fetchone()[0]

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
        """An item by id or unique id prefix (as shown by `queue list`)."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM downloads WHERE id LIKE ? || '%'", (prefix,)).fetchall()
        if len(rows) != 1:
            what = "No download" if not rows else f"{len(rows)} downloads"
            raise UsageError(f"{what} with id {prefix!r}.", "see the ids with `aiui-tui queue list`")
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
    def add(self, **values: Any) -> DownloadItem:
        now = time.time()
        item_id = uuid.uuid4().hex[:12]
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
                    "see it with `aiui-tui queue list`",
                ) from None
        item = self.get(item_id)
        assert item is not None
        return item

    def update(self, item_id: str, **values: Any) -> DownloadItem | None:
        if "source" in values:
            values["source"] = json.dumps(values["source"])
        values["updated_at"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in values)
        try:
            with self._tx() as db:
                db.execute(f"UPDATE downloads SET {sets} WHERE id = ?", [*values.values(), item_id])
        except sqlite3.IntegrityError:
            raise UsageError(
                f"{values.get('name')} is already being downloaded to that folder.", "see it with `aiui-tui queue list`"
            ) from None
        return self.get(item_id)

    def delete(self, item_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM downloads WHERE id = ?", (item_id,))

    def move(self, item_id: str, delta: int) -> None:
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
        recovered = []
        with self._tx() as db:
            for row in db.execute("SELECT id, owner_pid FROM downloads WHERE state = ?", (ACTIVE,)).fetchall():
                if not _alive(row["owner_pid"]):
                    db.execute(
                        "UPDATE downloads SET state = ?, owner_pid = NULL, reason = ?, updated_at = ? WHERE id = ?",
                        (PENDING, "interrupted; resumes from its part", time.time(), row["id"]),
                    )
                    recovered.append(row["id"])
        return recovered


class _Transaction:
    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self.db = db
        self.lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
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
