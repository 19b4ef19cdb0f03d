"""The model index: SQLite (WAL) under `state/library.sqlite`, one row per model file.

A row is reused while the file's size, mtime and inode are unchanged, so a rescan of an unchanged
library only stats files. Provenance (where a file came from) is keyed by sha256 in its own table,
so it survives a rename, a move between kinds or a rescan. Each write is one transaction, so a
`kill -9` at any moment leaves a loadable index; files are reconciled against rows on every scan.
Methods block: call them from a thread.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aiui_tui.core.library import LIBRARY, ModelRecord, ScanResult
from aiui_tui.logs import get_logger
from aiui_tui.services import sqlite
from aiui_tui.services.library.hashing import sha256_file
from aiui_tui.services.library.validate import MODEL_SUFFIXES, SPECIAL, FileCheck, check_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    path TEXT PRIMARY KEY,
    location TEXT NOT NULL,
    kind TEXT,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    device INTEGER NOT NULL,
    sha256 TEXT,
    format TEXT NOT NULL,
    architecture TEXT NOT NULL,
    executable INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    problem TEXT NOT NULL DEFAULT '',
    verified_at REAL,
    link_target TEXT
);
CREATE INDEX IF NOT EXISTS models_sha ON models(sha256);
CREATE INDEX IF NOT EXISTS models_location ON models(location);
-- What `models link`/`import` did to other UIs' folders, so `unlink` can undo exactly that.
CREATE TABLE IF NOT EXISTS links (
    id INTEGER PRIMARY KEY,
    ui_path TEXT NOT NULL,
    op TEXT NOT NULL,
    path TEXT NOT NULL,
    target TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE(ui_path, op, path)
);
CREATE TABLE IF NOT EXISTS sources (
    sha256 TEXT PRIMARY KEY,
    source TEXT NOT NULL
);
"""
_COLUMNS = (
    "path",
    "location",
    "kind",
    "name",
    "size",
    "mtime_ns",
    "inode",
    "device",
    "sha256",
    "format",
    "architecture",
    "executable",
    "ok",
    "problem",
    "verified_at",
    "link_target",
)
HashFn = Callable[[Path], str]
log = get_logger(__name__)


@dataclass(frozen=True)
class Found:
    """A model file seen on disk during a scan."""

    path: str
    kind: str | None
    size: int
    mtime_ns: int
    inode: int
    device: int
    link_target: str | None


def is_model_file(name: str) -> bool:
    if name.startswith(".") or name.endswith(".part"):
        return False
    return os.path.splitext(name)[1].lower() in MODEL_SUFFIXES


def walk_models(folder: Path, kind: str | None) -> Iterator[Found]:
    """Every model file under `folder` (recursively, following links to files, not to folders)."""
    stack = [str(folder)]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
                if not is_model_file(entry.name):
                    continue
                link = os.readlink(entry.path) if entry.is_symlink() else None
                st = entry.stat(follow_symlinks=True)
            except OSError:
                continue  # a dangling link or a file removed meanwhile
            yield Found(entry.path, kind, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev, link)


class LibraryIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite.connect(path)
        with self._lock:
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- reads --------------------------------------------------------------------------------
    def records(self, location: str | None = LIBRARY) -> list[ModelRecord]:
        where, args = ("WHERE m.location = ?", (location,)) if location else ("", ())
        with self._lock:
            rows = self._db.execute(
                f"SELECT m.*, s.source FROM models m LEFT JOIN sources s ON s.sha256 = m.sha256 {where} "
                "ORDER BY m.kind, m.name",
                args,
            ).fetchall()
        return [_record(r) for r in rows]

    def get(self, path: str) -> ModelRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT m.*, s.source FROM models m LEFT JOIN sources s ON s.sha256 = m.sha256 WHERE m.path = ?",
                (path,),
            ).fetchone()
        return _record(row) if row else None

    def source_of(self, sha256: str) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute("SELECT source FROM sources WHERE sha256 = ?", (sha256.lower(),)).fetchone()
        return json.loads(row[0]) if row else {}

    def installed_hashes(self) -> set[str]:
        with self._lock:
            rows = self._db.execute("SELECT sha256 FROM models WHERE location = ? AND sha256 IS NOT NULL", (LIBRARY,))
            return {r[0] for r in rows}

    # -- writes -------------------------------------------------------------------------------
    def set_source(self, sha256: str, source: dict[str, Any]) -> None:
        if not source:
            return
        with self._lock:
            self._db.execute(
                "INSERT INTO sources(sha256, source) VALUES(?, ?) "
                "ON CONFLICT(sha256) DO UPDATE SET source = excluded.source",
                (sha256.lower(), json.dumps(source, sort_keys=True)),
            )

    def put(self, record: ModelRecord) -> None:
        values = [getattr(record, c) for c in _COLUMNS]
        with self._lock:
            self._db.execute(
                f"INSERT OR REPLACE INTO models({', '.join(_COLUMNS)}) VALUES({', '.join('?' * len(_COLUMNS))})",
                values,
            )

    def remove(self, paths: Iterable[str]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("DELETE FROM models WHERE path = ?", [(p,) for p in paths])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def add_link(self, ui_path: str, op: str, path: str, target: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO links(ui_path, op, path, target, created_at) VALUES(?, ?, ?, ?, ?)",
                (ui_path, op, path, target, time.time()),
            )

    def links(self, ui_path: str | None = None) -> list[tuple[str, str, str, str]]:
        """(ui_path, op, path, target) rows, newest first, for one UI or all."""
        query = "SELECT ui_path, op, path, target FROM links"
        args: tuple[str, ...] = ()
        if ui_path:
            query, args = query + " WHERE ui_path = ?", (ui_path,)
        with self._lock:
            return [tuple(r) for r in self._db.execute(query + " ORDER BY id DESC", args)]

    def drop_link(self, ui_path: str, op: str, path: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM links WHERE ui_path = ? AND op = ? AND path = ?", (ui_path, op, path))

    def mark_verified(self, path: str, at: float | None = None) -> None:
        with self._lock:
            self._db.execute("UPDATE models SET verified_at = ? WHERE path = ?", (at or time.time(), path))

    # -- scanning -----------------------------------------------------------------------------
    def scan(
        self,
        folders: dict[Path, str | None],
        location: str = LIBRARY,
        *,
        workers: int = 2,
        hasher: HashFn = sha256_file,
        on_hashed: Callable[[str, int], None] | None = None,
        on_todo: Callable[[int, int], None] | None = None,
    ) -> ScanResult:
        """Bring the rows of `location` in line with the files in `folders` (folder -> kind).

        Unchanged files (same size, mtime and inode) keep their row and hash; new or changed ones
        are checked and hashed on `workers` threads. `on_todo(files, bytes)` is told what is to be
        hashed before it starts, `on_hashed(path, size)` after each file.
        """
        started = time.perf_counter()
        known = {r.path: r for r in self.records(location)}
        seen: dict[str, Found] = {}
        for folder, kind in folders.items():
            for found in walk_models(folder, kind):
                seen.setdefault(found.path, found)
        todo = [f for f in seen.values() if not _unchanged(known.get(f.path), f)]
        added = sum(1 for f in todo if f.path not in known)
        removed = [p for p in known if p not in seen]
        if on_todo:
            on_todo(len(todo), sum(f.size for f in todo))
        hashed = 0
        # A file moved or renamed on one filesystem keeps its inode and mtime: reuse its hash.
        moved = {(r.device, r.inode, r.size, r.mtime_ns): r.sha256 for r in known.values() if r.sha256}

        def index_one(found: Found) -> ModelRecord:
            same = moved.get((found.device, found.inode, found.size, found.mtime_ns))
            record = describe(found, location, (lambda _p: same) if same else hasher)
            if on_hashed:
                on_hashed(found.path, found.size)
            return record

        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="aiui-hash") as pool:
            for record in pool.map(index_one, todo):
                previous = known.get(record.path)
                if previous and previous.sha256 == record.sha256:
                    record = replace(record, verified_at=previous.verified_at)
                elif previous and previous.sha256 and self.source_of(previous.sha256):
                    # Bytes under a downloaded model's name changed: corruption until proven otherwise.
                    record = replace(
                        record,
                        ok=False,
                        problem=f"changed on disk since it was downloaded (sha256 was {previous.sha256[:12]}...); "
                        "download it again or verify the source",
                    )
                self.put(record)  # one transaction per file: a crash mid-scan keeps what was hashed
                hashed += 0 if moved.get((record.device, record.inode, record.size, record.mtime_ns)) else record.size
        if removed:
            self.remove(removed)
        return ScanResult(
            files=len(seen),
            added=added,
            changed=len(todo) - added,
            removed=len(removed),
            hashed_bytes=hashed,
            seconds=time.perf_counter() - started,
        )

    def index_known(self, path: Path, kind: str | None, sha256: str, source: dict[str, Any]) -> ModelRecord:
        """Index a file whose hash is already known (a finished, verified download): no rehash."""
        st = path.stat()
        found = Found(str(path), kind, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev, None)
        record = describe(found, LIBRARY, lambda _p: sha256)
        record = replace(record, verified_at=time.time())
        self.put(record)
        self.set_source(sha256, source)
        return replace(record, source=source or self.source_of(sha256))


def describe(found: Found, location: str, hasher: HashFn) -> ModelRecord:
    """One file's row. Whatever the file holds or is, this returns: a bad file is that file's problem."""
    path = Path(found.path)
    try:
        check = check_file(path, found.size)
    except Exception as exc:  # check_file returns problems as values; a bug in it must not end the scan
        log.exception("model file check failed", path=found.path)
        check = FileCheck("other", ok=False, problem=f"could not be checked ({exc.__class__.__name__}); see the log")
    sha256 = None
    if check.format != SPECIAL:  # a FIFO would block the hasher, /dev/zero would never end
        try:
            sha256 = hasher(path)
        except OSError:
            pass
    return ModelRecord(
        path=found.path,
        location=location,
        kind=found.kind,
        name=path.name,
        size=found.size,
        mtime_ns=found.mtime_ns,
        inode=found.inode,
        device=found.device,
        sha256=sha256,
        format=check.format,
        architecture=check.architecture,
        executable=check.executable,
        ok=check.ok,
        problem=check.problem,
        link_target=found.link_target,
    )


def _unchanged(record: ModelRecord | None, found: Found) -> bool:
    return (
        record is not None
        and record.sha256 is not None
        and (record.size, record.mtime_ns, record.inode) == (found.size, found.mtime_ns, found.inode)
        and record.kind == found.kind
    )


def _record(row: sqlite3.Row) -> ModelRecord:
    values = {c: row[c] for c in _COLUMNS}
    values["executable"] = bool(values["executable"])
    values["ok"] = bool(values["ok"])
    source = row["source"]
    return ModelRecord(**values, source=json.loads(source) if source else {})
