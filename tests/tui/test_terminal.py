"""The dashboard starts, renders, and quits: under Pilot and in a real terminal (tmux)."""

from __future__ import annotations

import sys

import pytest

from aiui_tui.services import open_services
from aiui_tui.tui.app import make_app
from tests.conftest import load_services_inputs
from tests.tmux_terminal import TmuxSession


async def test_app_mounts_and_quits_under_pilot(layout):
    config, credentials = load_services_inputs(layout)
    async with open_services(layout, config, credentials) as services:
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            assert str(layout.root) in app.query_one("StatusLine").render().plain
            assert {card.app_name for card in app.query("AppCard")} == {"fooocus", "automatic1111", "comfyui"}
            await pilot.press("q")
        assert app.return_code == 0


@pytest.fixture
def tmux():
    sessions = []

    def start(*args, **kwargs):
        session = TmuxSession(*args, **kwargs)
        sessions.append(session)
        return session

    yield start
    for session in sessions:
        session.close()


def test_dashboard_in_a_real_terminal(tmux, tmp_path):
    root = tmp_path / "r"
    term = tmux([sys.executable, "-m", "aiui_tui", "--root", str(root)], env={"TERM": "xterm-256color"})
    screen = term.wait_for("aiui-tui")
    assert "Quit" in term.wait_for("Quit")
    assert str(root) in screen or str(root) in term.screen()
    term.send("4")
    term.wait_for("Tracebacks")  # the logs screen's footer
    term.send("?")
    term.wait_for("Keys — Logs")
    assert "Tracebacks" in term.wait_for("Errors")
    term.send("Escape")
    term.wait_gone("Keys — Logs")  # Esc then q at once would read as Alt+q
    term.send("q")
    assert term.wait_closed(), term.screen()
    assert (root / "config").is_dir()
