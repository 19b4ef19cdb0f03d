"""An unexpected error ends the app with one line on the terminal and the traceback in the log
(aiui_tui/tui/crash.py, the one adapter to a Textual internal)."""

from __future__ import annotations

import inspect

import pytest
from textual.app import App
from textual.widgets import Static

from aiui_tui.tui.crash import Crashed, OneLineCrashApp


class Boom(OneLineCrashApp[int]):
    def __init__(self, error: Exception, *, in_worker: bool = False) -> None:
        super().__init__()
        self.error, self.in_worker = error, in_worker

    def compose(self):
        yield Static("hello")

    def on_mount(self) -> None:
        if self.in_worker:
            self.run_worker(self.fail(), exit_on_error=True)
        else:
            self.set_timer(0.01, lambda: self.fail_now())

    def fail_now(self) -> None:
        raise self.error

    async def fail(self) -> None:
        raise self.error


class NoAttributes(Exception):
    def __setattr__(self, name, value):
        if name == "__rich__":
            raise AttributeError(name)
        super().__setattr__(name, value)


def test_textual_still_calls_the_hook_we_adapt_to():
    """A Textual upgrade that renames or reshapes it must fail here, not print tracebacks with locals."""
    assert list(inspect.signature(App._handle_exception).parameters) == ["self", "error"]
    assert OneLineCrashApp._handle_exception is not App._handle_exception


@pytest.mark.parametrize("in_worker", [False, True])
async def test_one_line_on_the_terminal_the_traceback_in_the_log(in_worker, capsys, caplog):
    app = Boom(RuntimeError("bad state token=sekrit99"), in_worker=in_worker)
    with pytest.raises(RuntimeError if not in_worker else Exception) as raised:
        async with app.run_test() as pilot:
            await pilot.pause()
    assert app.return_code == 1
    shown = " ".join(capsys.readouterr().err.split())
    assert shown.startswith("aiui-tui stopped on an unexpected error: ")
    assert "RuntimeError" in shown and "bad state token=[REDACTED]" in shown
    assert "Traceback" not in shown and "sekrit99" not in shown
    (record,) = [r for r in caplog.records if r.getMessage().startswith("unexpected error in the dashboard")]
    assert record.exc_info is not None and "bad state" in str(record.exc_info[1])
    if in_worker:  # Textual wraps a worker's error (WorkerFailed); ours is inside
        assert isinstance(raised.value.error, RuntimeError)


async def test_an_error_that_takes_no_attributes_still_shows_one_line(capsys):
    app = Boom(NoAttributes("frozen"))
    with pytest.raises(Crashed) as raised:
        async with app.run_test() as pilot:
            await pilot.pause()
    assert isinstance(raised.value.__cause__, NoAttributes)
    assert app.return_code == 1
    shown = " ".join(capsys.readouterr().err.split())
    assert shown.startswith("aiui-tui stopped on an unexpected error: NoAttributes: frozen.")
    assert "Traceback" not in shown
