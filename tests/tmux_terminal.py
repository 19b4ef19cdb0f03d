"""Drive a program in a real terminal: tmux with send-keys and capture-pane."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid


class TmuxSession:
    def __init__(self, command: list[str], *, width: int = 120, height: int = 40, env: dict[str, str] | None = None):
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed (scripts/test installs it as root)")
        self.name = f"aiui-{uuid.uuid4().hex[:8]}"
        self.socket = f"aiui-test-{self.name}"
        exports = [f"{k}={v}" for k, v in (env or {}).items()]
        # COLUMNS/LINES from the test runner's environment would override the pane's real size.
        unset = ["-u", "COLUMNS", "-u", "LINES"]
        self._tmux(
            "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), "env", *unset, *exports, *command
        )

    def _tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True, timeout=30
        ).stdout

    def send(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, *keys)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            try:
                screen = self.screen()
            except subprocess.CalledProcessError:
                break  # the session ended
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} did not appear within {timeout}s; screen was:\n{screen}")

    def wait_gone(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        screen = self.screen()
        while text in screen and time.monotonic() < deadline:
            time.sleep(0.2)
            screen = self.screen()
        if text in screen:
            raise AssertionError(f"{text!r} still on screen after {timeout}s:\n{screen}")
        return screen

    def alive(self) -> bool:
        return (
            subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", self.name], capture_output=True).returncode
            == 0
        )

    def wait_closed(self, timeout: float = 15) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return True
            time.sleep(0.2)
        return False

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
