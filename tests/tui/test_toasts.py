"""The test helper that records toasts through Textual's public API (tests/toasts.py)."""

from __future__ import annotations

import asyncio

from textual.app import App

from tests.toasts import Toast, toast_text, toasts


async def test_every_notify_is_recorded_in_order_until_cleared():
    app = App()
    async with app.run_test() as pilot:
        app.notify("from the app")
        app.screen.notify("from a screen", severity="warning", title="Careful")
        await asyncio.to_thread(app.notify, "from a thread", severity="error")
        await pilot.pause()
        assert toasts(app) == [
            Toast("from the app"),
            Toast("from a screen", "warning", "Careful"),
            Toast("from a thread", "error"),
        ]
        assert toast_text(app) == "from the app\nfrom a screen\nfrom a thread"
        app.clear_notifications()
        assert toasts(app) == []
        app.notify("after clearing", timeout=0.01)
        await pilot.pause(0.05)  # expired on screen: still recorded
        assert toast_text(app) == "after clearing"
    assert toasts(App()) == []
