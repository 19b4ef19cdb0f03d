"""The toasts an app showed, for tests, through Textual's public API only.

Textual keeps an app's notifications in a private `App._notifications`; tests that read it would
break on a Textual upgrade that renames it. Here the public `App.notify` (every `notify`, the
app's, a screen's or a widget's, ends in it) and `App.clear_notifications` are wrapped for the
test's duration by the autouse fixture `record_toasts`, and `toasts(app)` returns what the app was
asked to show since it was created or last cleared, in order. Unlike Textual's collection it keeps
toasts whose timeout ran out, so a test never races a toast's expiry.

Use: a conftest (or a test module) imports the fixture, `from tests.toasts import record_toasts`,
then tests call `toasts(app)` or `toast_text(app)`.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Toast:
    message: str
    severity: str = "information"
    title: str = ""


_shown: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()  # `notify` is thread-safe in Textual: plugins' commands call it from threads


def toasts(app) -> list[Toast]:
    """The toasts `app` was asked to show, oldest first (a copy)."""
    with _lock:
        return list(_shown.get(app, ()))


def toast_text(app) -> str:
    """Every toast's message, one per line: for `in` checks."""
    return "\n".join(t.message for t in toasts(app))


@pytest.fixture(autouse=True)
def record_toasts(monkeypatch):
    """Record every `notify` of every Textual app while the test runs."""
    from textual.app import App

    notify, clear = App.notify, App.clear_notifications

    def recording_notify(self, message, *, title="", severity="information", **kwargs):
        with _lock:
            _shown.setdefault(self, []).append(Toast(str(message), severity, title))
        return notify(self, message, title=title, severity=severity, **kwargs)

    def recording_clear(self):
        with _lock:
            _shown.pop(self, None)
        return clear(self)

    monkeypatch.setattr(App, "notify", recording_notify)
    monkeypatch.setattr(App, "clear_notifications", recording_clear)
    yield
