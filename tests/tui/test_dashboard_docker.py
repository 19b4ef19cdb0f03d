"""The dashboard on the real engine: a stand-in app's card goes through its states by keyboard."""

from __future__ import annotations

import pytest

from aiui_tui.services.apps.spec import LABEL_ROOT
from aiui_tui.tui.app import make_app
from aiui_tui.tui.screens.app_detail import AppDetailScreen
from aiui_tui.tui.widgets.app_card import AppCard
from tests.apps.test_docker_apps import free_port, manifest
from tests.tui.conftest import running_services, until

pytestmark = pytest.mark.docker


def card_text(app, name: str) -> str:
    card = app.screen.query_one(f"#card-{name}", AppCard)
    return "\n".join(str(line) for line in card.render().renderables)


async def test_start_and_stop_a_stand_in_app_from_its_card(layout, busybox_image, docker_client, clean_env):
    port = free_port()
    command = f'["sh", "-c", "echo hello from the stand-in; exec httpd -f -p 127.0.0.1:{port} -h /www"]'
    (layout.user_apps_dir / "stand-in.toml").write_text(manifest("stand-in", busybox_image, port, command))
    try:
        async with running_services(layout) as services:
            app = make_app(services)
            async with app.run_test(size=(120, 40)) as pilot:
                await until(pilot, lambda: app.ui.engine_ok is True, what="the engine")
                await until(pilot, lambda: app.screen.query("#card-stand-in"), what="the card")
                app.screen.query_one("#card-stand-in", AppCard).focus()
                await pilot.pause()
                assert "stopped" in card_text(app, "stand-in")
                await pilot.press("s")
                await until(pilot, lambda: "● ready" in card_text(app, "stand-in"), what="ready")
                assert f"http://127.0.0.1:{port}/" in card_text(app, "stand-in")
                await until(pilot, lambda: "CPU" in card_text(app, "stand-in"), what="stats on the card")
                await pilot.press("l")
                assert isinstance(app.screen, AppDetailScreen)
                await until(
                    pilot, lambda: any("hello from the stand-in" in line for line in app.screen.lines), what="logs"
                )
                await pilot.press("escape")
                await pilot.press("x")
                await until(pilot, lambda: "● stopped" in card_text(app, "stand-in"), what="stopped")
    finally:
        for c in docker_client.containers.list(all=True, filters={"label": f"{LABEL_ROOT}={layout.root}"}):
            c.remove(force=True)
