"""The dashboard's frame under Pilot: screens by number keys, help, logs live and filtered, errors."""

from __future__ import annotations

import json

import pytest
from textual.widgets import DataTable, RichLog

from aiui_tui.core.events import Notice
from aiui_tui.services import open_services
from aiui_tui.tui.app import make_app
from aiui_tui.tui.screens.help import HelpScreen
from aiui_tui.tui.screens.logs import LogsScreen
from aiui_tui.tui.widgets.status_line import StatusLine
from tests.conftest import load_services_inputs
from tests.toasts import toasts


@pytest.fixture
async def services(layout):
    config, credentials = load_services_inputs(layout)
    async with open_services(layout, config, credentials) as services:
        yield services


def _write_log(layout, *records):
    with open(layout.log_file, "a") as fh:
        for level, event in records:
            fh.write(
                json.dumps(
                    {"timestamp": "2026-11-24T10:00:00Z", "level": level, "logger": "aiui_tui.t", "event": event}
                )
                + "\n"
            )


def _log_text(app) -> str:
    return "\n".join(line.text for line in app.screen.query_one(RichLog).lines)


async def test_number_keys_switch_screens_and_status_line_shows_root(services, layout):
    app = make_app(services)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.current_mode == "dashboard"
        assert str(layout.root) in app.screen.query_one(StatusLine).render().plain
        await pilot.press("4")
        assert app.current_mode == "logs" and isinstance(app.screen, LogsScreen)
        await pilot.press("1")
        assert app.current_mode == "dashboard"


async def test_help_lists_the_keys_of_the_current_screen(services):
    app = make_app(services)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        rows = [app.screen.query_one(DataTable).get_row_at(i) for i in range(app.screen.query_one(DataTable).row_count)]
        actions = {row[1] for row in rows}
        assert {"Errors", "Tracebacks", "Follow", "Quit", "Help", "Command palette: every action"} <= actions
        await pilot.press("escape")
        assert isinstance(app.screen, LogsScreen)


async def test_logs_screen_is_live_and_filters_by_level(services, layout):
    _write_log(layout, ("debug", "noise"), ("info", "started up"), ("error", "engine lost"))
    app = make_app(services)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await pilot.pause(0.3)
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = _log_text(app)
        assert "started up" in text and "engine lost" in text and "noise" not in text
        _write_log(layout, ("warning", "disk nearly full"))
        await pilot.pause(0.8)  # one poll interval
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "disk nearly full" in _log_text(app)
        await pilot.press("e")
        await pilot.pause()
        text = _log_text(app)
        assert "engine lost" in text and "started up" not in text and "disk nearly full" not in text
        await pilot.press("a")
        await pilot.pause()
        assert "noise" in _log_text(app)


async def test_notices_become_toasts(services):
    app = make_app(services)
    async with app.run_test(size=(120, 40)) as pilot:
        services.bus.publish(Notice("error", "Docker engine not reachable.", fix="start it"))
        await pilot.pause()
        assert [n.message for n in toasts(app)] == ["Docker engine not reachable.\nFix: start it"]


async def test_palette_offers_screens_and_help(services):
    app = make_app(services)
    async with app.run_test(size=(120, 40)):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Open Dashboard", "Open Logs", "Help", "Quit"} <= set(titles)


async def test_unexpected_error_exits_with_one_line_and_logs_the_traceback(services, layout, monkeypatch, capsys):
    from aiui_tui.logs import setup_logging

    setup_logging(layout.log_file, "INFO")

    def broken(self):
        raise RuntimeError("widget bug with token=sekrit99")

    monkeypatch.setattr(LogsScreen, "action_toggle_follow", broken)
    app = make_app(services)
    with pytest.raises(RuntimeError):
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("4", "f")
            await pilot.pause()
    assert app.return_code == 1
    shown = " ".join(capsys.readouterr().err.split())  # unwrap the terminal's line breaks
    assert shown.startswith("aiui-tui stopped on an unexpected error: RuntimeError: widget bug with token=[REDACTED].")
    assert "Traceback" not in shown and "sekrit99" not in shown
    log = layout.log_file.read_text()
    assert "Traceback (most recent call last)" in log and "sekrit99" not in log
