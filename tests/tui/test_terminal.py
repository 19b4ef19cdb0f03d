"""The dashboard starts, renders, and quits: under Pilot and in a real terminal (tmux)."""

from __future__ import annotations

import sys
import time

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


def test_every_screen_in_a_real_terminal(tmux, tmp_path):
    """First run: the wizard; cancelled, nothing is written; then every screen by keyboard, then quit."""
    root = tmp_path / "r"
    term = tmux([sys.executable, "-m", "aiui_tui", "--root", str(root)], env={"TERM": "xterm-256color"})
    term.wait_for("1/8 System check")
    term.wait_for("docker:")  # the doctor's results arrive
    for step in (
        "2/8 Data folders",
        "3/8 Apps",
        "4/8 GPU",
        "5/8 Network",
        "6/8 Other UIs",
        "7/8 Starter models",
        "8/8 Summary",
    ):
        term.send("C-n")
        term.wait_for(step)
    assert "Models to queue" in term.screen()
    term.send("Escape")
    term.wait_for("Setup cancelled: nothing changed")
    screen = term.wait_for("AUTOMATIC1111")
    assert str(root) in screen and "ComfyUI" in screen and "Fooocus" in screen
    assert "CPU" in term.wait_for("MEM")
    assert not (root / "config" / "secrets.toml").exists()
    term.send("2")
    term.wait_for("Juggernaut XL v8")
    term.send("/")
    time.sleep(0.5)  # focus moves to the search box on the next frame
    term.send("-l", "flux")
    screen = term.wait_for("FLUX.1 schnell")
    term.wait_gone("Juggernaut XL v8")
    term.send("Escape")
    time.sleep(0.5)  # Esc and a key at once read as Alt+key
    term.send("3")
    term.wait_for("The queue is empty")
    term.send("4")
    term.wait_for("Tracebacks")  # the logs screen's footer
    term.send("?")
    term.wait_for("Keys — Logs")
    assert "Tracebacks" in term.wait_for("Errors")
    term.send("Escape")
    term.wait_gone("Keys — Logs")  # Esc then q at once would read as Alt+q
    assert not (root / "config" / "aiui.toml").exists()  # cancelled: no settings written
    term.send("5")
    term.wait_for("Fooocus: Models between generations")  # the settings screen, options loaded
    term.wait_for("Enable/disable plugin")
    term.send("1")
    term.wait_for("s Start")
    term.send("l")
    term.wait_for("Follow/pause")  # the app detail screen
    term.send("Escape")
    term.wait_for("s Start")
    # Three screens after Settings showed its options (a save on showing would have been written by
    # now; test_plugins_tui checks it precisely):
    assert not (root / "config" / "aiui.toml").exists()  # looking saves nothing
    term.send("q")
    assert term.wait_closed(), term.screen()
    assert not root.exists()  # a new root whose setup was never finished is not kept


def test_a_broken_config_ends_the_dashboard_with_one_line_and_exit_2(tmux, tmp_path):
    root = tmp_path / "r"
    (root / "config").mkdir(parents=True)
    (root / "config" / "aiui.toml").write_text('[network]\nbind_address = "nope"\n')
    script = f"{sys.executable} -m aiui_tui --root {root}; echo EXIT=$?; sleep 30"
    term = tmux(["sh", "-c", script], env={"TERM": "xterm-256color"})
    screen = term.wait_for("EXIT=")
    assert "EXIT=2" in screen
    text = " ".join(screen.split())  # the terminal wraps the line
    assert "line 2, key network.bind_address" in text and "Fix:" in text
    assert "Traceback" not in screen
    assert (root / "config" / "aiui.toml").read_text() == '[network]\nbind_address = "nope"\n'
