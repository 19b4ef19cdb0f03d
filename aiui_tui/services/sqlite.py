"""How every persistent store opens SQLite: WAL, synchronous=NORMAL, a busy timeout, one lock.

WAL with synchronous=NORMAL keeps committed transactions through a crash of the application; the
busy timeout lets the dashboard and a CLI command share a file. Never put these files on NFS.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect(path: Path) -> sqlite3.Connection:
    """A connection usable from any thread (callers serialise with their own lock), autocommit mode."""
    db = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=10000")
    return db
