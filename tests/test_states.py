"""App and download states are str enums (issue 18.4) that stay their old strings wherever they are
stored or printed: the queue's SQLite rows, `downloads list --json`, `app list --json`, the JSON log."""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import pytest

from aiui_tui.core.apps import AppState, AppStatus
from aiui_tui.core.downloads import DownloadItem, DownloadState
from aiui_tui.core.events import DownloadStateChanged
from tests.cli_inprocess import main_cli
from tests.conftest import init_root

OLD_APP_STATES = ("not created", "pulling", "starting", "ready", "stopped", "exited", "stopping", "unknown", "broken")
OLD_DOWNLOAD_STATES = ("pending", "active", "paused", "failed", "done")


def test_members_are_their_old_strings():
    assert [s.value for s in AppState] == list(OLD_APP_STATES)
    assert [s.value for s in DownloadState] == [*OLD_DOWNLOAD_STATES, "cancelled"]
    for state in (*AppState, *DownloadState):
        assert state == state.value and str(state) == f"{state}" == state.value
        assert json.dumps({"state": state}) == json.dumps({"state": state.value})
        assert {state.value: 1}[state] == 1  # style tables keyed by the old strings still find it


def test_plain_strings_become_members_and_unknown_ones_are_refused():
    item = DownloadItem("d1", "http://x/m", "/m", "m", "paused", 1.0)
    assert item.state is DownloadState.PAUSED
    assert dataclasses.replace(item, state="done").state is DownloadState.DONE
    assert AppStatus("a", "A", "not created").state is AppState.NOT_CREATED
    assert DownloadStateChanged("d1", DownloadState.CANCELLED, item).state == "cancelled"
    with pytest.raises(ValueError, match="'queued' is not a valid DownloadState"):
        DownloadItem("d1", "http://x/m", "/m", "m", "queued", 1.0)
    with pytest.raises(ValueError, match="'running' is not a valid AppState"):
        AppStatus("a", "A", "running")


def test_a_queue_stored_as_plain_strings_reads_and_prints_the_same(tmp_path, clean_env):
    root = init_root(tmp_path / "root").root
    for name in ("a", "b"):
        added = main_cli("--root", str(root), "downloads", "add", f"http://127.0.0.1:9/{name}.bin",
                         "--dest", str(tmp_path / "dl"), "--name", f"{name}.bin")  # fmt: skip
        assert added.returncode == 0, added.output
    db = sqlite3.connect(root / "state" / "downloads.sqlite")
    with db:  # as the code before the enums wrote it: plain text
        db.execute("UPDATE downloads SET state = 'paused' WHERE name = 'b.bin'")

    listed = main_cli("--root", str(root), "downloads", "list", "--json")
    assert listed.returncode == 0, listed.output
    rows = {r["name"]: r for r in json.loads(listed.stdout)["items"]}
    assert (rows["a.bin"]["state"], rows["b.bin"]["state"]) == ("pending", "paused")
    assert '"state": "paused",' in listed.stdout

    resumed = main_cli("--root", str(root), "downloads", "resume", rows["b.bin"]["id"], "--json")
    assert resumed.returncode == 0, resumed.output
    assert json.loads(resumed.stdout)["item"]["state"] == "pending"
    stored = db.execute("SELECT name, state, typeof(state) FROM downloads ORDER BY position").fetchall()
    assert stored == [("a.bin", "pending", "text"), ("b.bin", "pending", "text")]


def test_app_list_json_prints_the_old_strings(tmp_path, clean_env):
    root = init_root(tmp_path / "root").root
    listed = main_cli("--root", str(root), "app", "list", "--json")
    assert listed.returncode == 0, listed.output
    states = [app["state"] for app in json.loads(listed.stdout)["apps"]]
    assert states and set(states) <= set(OLD_APP_STATES)
    assert f'"state": "{states[0]}",' in listed.stdout
