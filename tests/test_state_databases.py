"""Hostile state databases (state/*.sqlite): damaged, truncated, read-only, locked, not a file.

Each is one line naming the file and the fix, exit 2, through the real CLI (`downloads list` opens the
download queue, `models list` the queue and then the library index), and the file is left as it
was. Permission cases run the CLI as another uid: the suite runs as root, whom modes do not stop.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from aiui_tui.core.errors import DatabaseProblem, PathProblem
from aiui_tui.services import sqlite as state_sqlite
from tests.conftest import as_user, init_root, one_line_error, run_cli

USER = 1234  # the user running aiui-tui in the permission tests
OTHER = 4321  # someone else

QUEUE = (("downloads", "list"), "downloads.sqlite")
MODELS = (("models", "list"), "library.sqlite")


def snapshot(path: Path) -> tuple[bytes, int, int]:
    st = path.stat()
    return path.read_bytes(), stat.S_IMODE(st.st_mode), st.st_uid


@pytest.fixture(scope="module")
def template_root(tmp_path_factory):
    """A data root with both databases, made once by the CLI itself."""
    root = init_root(tmp_path_factory.mktemp("template") / "root").root
    for command, _ in (QUEUE, MODELS):
        result = run_cli("--root", str(root), *command)
        assert result.returncode == 0, result.output
    return root


@pytest.fixture
def world_root(template_root):
    """A copy of the template under a temp dir other users can reach."""
    base = Path(tempfile.mkdtemp(prefix="aiui-db-"))
    base.chmod(0o755)
    root = base / "root"
    shutil.copytree(template_root, root, symlinks=True)
    try:
        yield root
    finally:
        shutil.rmtree(base, ignore_errors=True)


def give_to(root: Path, uid: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)


@pytest.mark.parametrize(("command", "name"), [QUEUE, MODELS], ids=["downloads", "models"])
@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty-header"])
def test_damaged_database_is_one_line_and_left_as_it_is(world_root, command, name, damage):
    db = world_root / "state" / name
    good = db.read_bytes()
    if damage == "garbage":
        db.write_bytes(os.urandom(3) + b"not a database" * 1000)
    elif damage == "truncated":
        db.write_bytes(good[: len(good) // 2])
    else:  # the SQLite header, then nothing: a copy cut after its first 100 bytes
        db.write_bytes(good[:100])
    before = snapshot(db)
    result = run_cli("--root", str(world_root), *command)
    line = one_line_error(result, str(db), "damaged or not an SQLite database", f"mv {db} {db}.broken")
    assert "new, empty one" in line
    assert snapshot(db) == before
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0


def test_page_damaged_after_opening_is_classified_at_first_use(tmp_path):
    """What `connect` could not see (the file damaged while open) surfaces at the next query, typed."""
    path = tmp_path / "index.sqlite"
    plain = sqlite3.connect(path)
    plain.execute("CREATE TABLE t(x)")
    plain.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 400)
    plain.commit()
    plain.close()
    db = state_sqlite.connect(path)
    assert db.execute("SELECT count(*) FROM t").fetchone()[0] == 400
    with open(path, "r+b") as fh:
        fh.seek(20 * 4096)
        fh.write(os.urandom(5 * 4096))
    db.execute("PRAGMA shrink_memory")  # drop the cached pages
    with pytest.raises(DatabaseProblem, match="damaged or not an SQLite database"):
        db.execute("SELECT * FROM t").fetchall()
    with pytest.raises(DatabaseProblem, match="damaged"):
        for _ in db.execute("SELECT * FROM t"):
            pass
    # Our own mistakes stay bugs: they are not blamed on the file.
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        db.execute("SELECT * FROM nope")
    db.close()


@pytest.mark.parametrize(("command", "name"), [QUEUE, MODELS], ids=["downloads", "models"])
def test_read_only_database_file(world_root, command, name):
    db = world_root / "state" / name
    give_to(world_root, USER)
    db.chmod(0o444)
    before = snapshot(db)
    result = run_cli("--root", str(world_root), *command, user=USER)
    one_line_error(result, f"{db} is read-only (mode -r--r--r--)", f"chmod u+rw {db}")
    assert snapshot(db) == before


def test_database_owned_by_another_user(world_root):
    db = world_root / "state" / "library.sqlite"
    give_to(world_root, USER)
    os.chown(db, OTHER, OTHER)
    before = snapshot(db)
    result = run_cli("--root", str(world_root), *MODELS[0], user=USER)
    one_line_error(result, f"{db} belongs to uid {OTHER}, not to you", f"sudo chown {USER}: {db}")
    assert snapshot(db) == before


def test_database_in_a_read_only_folder(world_root):
    state = world_root / "state"
    give_to(world_root, USER)
    state.chmod(0o555)
    before = {p.name: snapshot(p) for p in state.iterdir()}
    result = run_cli("--root", str(world_root), *QUEUE[0], user=USER)
    one_line_error(result, f"{state} is not writable", f"chmod u+rwx {state}")
    # The opener says the same when asked directly (the TUI and services open through it).
    code = (
        "from pathlib import Path; from aiui_tui.services import sqlite; from aiui_tui.core.errors import AiuiError\n"
        f"try:\n    sqlite.connect(Path({str(state / 'library.sqlite')!r}))\n"
        "except AiuiError as e:\n    print(type(e).__name__, e.one_line())\n"
    )
    direct = subprocess.run(
        [*as_user(USER), sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent.parent,
    )
    assert direct.stdout.startswith(f"PathProblem {state} is not writable"), direct.stdout + direct.stderr
    assert {p.name: snapshot(p) for p in state.iterdir()} == before


def _hold_lock(db: Path, exclusive_mode: bool) -> subprocess.Popen:
    """Another process with a real sqlite3 connection inside BEGIN EXCLUSIVE, until its stdin closes."""
    code = (
        "import sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        + ("db.execute('PRAGMA locking_mode=EXCLUSIVE')\n" if exclusive_mode else "")
        + "db.execute('BEGIN EXCLUSIVE')\n"
        "db.execute('SELECT count(*) FROM sqlite_master').fetchall()\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_locked_database_names_the_file_and_the_holder(world_root):
    """Queue: the other process holds the write lock; our reads work, the first write waits and fails.
    Library: it holds the file exclusively (locking_mode=EXCLUSIVE); even opening fails.
    Both commands run at once: each waits out the busy timeout."""
    queue_db = world_root / "state" / "downloads.sqlite"
    models_root = world_root.parent / "root2"
    shutil.copytree(world_root, models_root)  # the models command opens the queue first: its own root
    library_db = models_root / "state" / "library.sqlite"
    before = {p: snapshot(p) for p in (queue_db, library_db)}
    holders = [_hold_lock(queue_db, exclusive_mode=False), _hold_lock(library_db, exclusive_mode=True)]
    try:
        with ThreadPoolExecutor(2) as pool:
            queue = pool.submit(run_cli, "--root", str(world_root), *QUEUE[0])
            models = pool.submit(run_cli, "--root", str(models_root), *MODELS[0])
            queue_result, models_result = queue.result(), models.result()
    finally:
        for holder in holders:
            assert holder.stdin is not None
            holder.stdin.close()
            holder.wait(30)
    for result, db, holder in ((queue_result, queue_db, holders[0]), (models_result, library_db, holders[1])):
        line = one_line_error(result, f"{db} is locked by another process", f"held by pid {holder.pid}: ")
        assert f"still locked after {state_sqlite.BUSY_TIMEOUT_S} s" in line and "then run this again" in line
    assert {p: snapshot(p) for p in before} == before


@pytest.mark.parametrize("what", ["folder", "fifo", "dangling-link", "link-loop"])
def test_database_path_that_is_not_a_file(world_root, what):
    db = world_root / "state" / "downloads.sqlite"
    db.unlink()
    expect = {
        "folder": f"{db} is a folder, but a database file is expected there",
        "fifo": f"{db} is a named pipe, but a database file is expected there",
        "dangling-link": f"{db} is a link to {world_root}/gone.sqlite, which does not exist",
        "link-loop": f"{db} cannot be opened: Too many levels of symbolic links (a loop of symbolic links)",
    }[what]
    if what == "folder":
        db.mkdir()
    elif what == "fifo":
        os.mkfifo(db)
    elif what == "dangling-link":
        db.symlink_to(world_root / "gone.sqlite")
    else:
        db.symlink_to(db)
    result = run_cli("--root", str(world_root), *QUEUE[0], timeout=30)
    one_line_error(result, expect)
    assert os.path.lexists(db) and not (world_root / "gone.sqlite").exists()


def test_a_file_in_a_missing_folder_is_the_folders_problem(tmp_path):
    with pytest.raises(PathProblem, match="does not exist"):
        state_sqlite.connect(tmp_path / "nowhere" / "x.sqlite")
