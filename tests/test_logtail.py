"""Following the JSON log: backlog, partial lines, rotation."""

from __future__ import annotations

import json
import os

from aiui_tui.services.logtail import LogTail, parse_line


def _line(event, level="info", **fields):
    return (
        json.dumps(
            {"timestamp": "2026-11-24T12:03:04.5Z", "level": level, "logger": "aiui_tui.x", "event": event, **fields}
        )
        + "\n"
    )


def test_parse_line_fields_and_garbage():
    record = parse_line(_line("hello", "warning", n=3, exception="Traceback...\nValueError: x"))
    assert (record.level, record.event, record.fields, record.time_of_day()) == (
        "warning",
        "hello",
        {"n": 3},
        "12:03:04",
    )
    assert record.exception.endswith("ValueError: x")
    garbage = parse_line("not json at all")
    assert garbage.event == "not json at all" and garbage.level == "info"


def test_follows_appends_and_waits_for_the_end_of_a_partial_line(tmp_path):
    path = tmp_path / "aiui.log"
    tail = LogTail(path)
    assert tail.read_new() == []  # no file yet
    path.write_text(_line("one"))
    assert [r.event for r in tail.read_new()] == ["one"]
    half = _line("two")
    with open(path, "a") as fh:
        fh.write(half[:10])
    assert tail.read_new() == []
    with open(path, "a") as fh:
        fh.write(half[10:] + _line("three"))
    assert [r.event for r in tail.read_new()] == ["two", "three"]


def test_first_read_shows_only_the_backlog_from_a_whole_line(tmp_path):
    path = tmp_path / "aiui.log"
    path.write_text("".join(_line(f"e{i}") for i in range(1000)))
    tail = LogTail(path, backlog_bytes=1000)
    events = [r.event for r in tail.read_new()]
    assert events[-1] == "e999" and 5 < len(events) < 20
    assert all(e.startswith("e") for e in events)  # no cut line parsed as garbage


def test_rotation_restarts_from_the_new_file(tmp_path):
    path = tmp_path / "aiui.log"
    path.write_text(_line("old"))
    tail = LogTail(path)
    assert [r.event for r in tail.read_new()] == ["old"]
    os.rename(path, tmp_path / "aiui.log.1")
    path.write_text(_line("new1") + _line("new2"))
    assert [r.event for r in tail.read_new()] == ["new1", "new2"]
