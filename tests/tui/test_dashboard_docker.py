"""The dashboard on the real engine: a stand-in app's card goes through its states by keyboard."""

from __future__ import annotations

import contextlib
import os
import time

import pytest
from textual.geometry import Region

from aiui_tui.services.apps import AppService
from aiui_tui.tui.app import make_app
from aiui_tui.tui.screens.app_detail import AppDetailScreen
from aiui_tui.tui.widgets.app_card import AppCard
from aiui_tui.tui.widgets.confirm import ConfirmScreen
from tests.apps.test_docker_apps import free_port, manifest, open_service
from tests.conftest import build_busybox_context
from tests.toasts import toasts
from tests.tui.conftest import running_services, until

pytestmark = pytest.mark.docker


def card_text(app, name: str) -> str:
    card = app.screen.query_one(f"#card-{name}", AppCard)
    return "\n".join(str(line) for line in card.render().renderables)


async def test_start_and_stop_a_stand_in_app_from_its_card(layout, busybox_image, clean_env, cleanup):
    port = free_port()
    command = f'["sh", "-c", "echo hello from the stand-in; exec httpd -f -p 127.0.0.1:{port} -h /www"]'
    (layout.user_apps_dir / "stand-in.toml").write_text(manifest("stand-in", busybox_image, port, command))
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
            await until(pilot, lambda: any("hello from the stand-in" in line for line in app.screen.lines), what="logs")
            await pilot.press("escape")
            await pilot.press("x")
            await until(pilot, lambda: "● stopped" in card_text(app, "stand-in"), what="stopped")


def shown_text(card: AppCard) -> str:
    """What the card shows on screen at its size (wrapped lines joined), borders removed."""
    strips = card.render_lines(Region(0, 0, *card.outer_size))
    words = " ".join(strip.text.strip("│╭╮╰╯─ ") for strip in strips)
    return " ".join(words.split())


async def test_a_broken_manifest_is_a_card_with_its_line_and_follows_the_file(
    layout, busybox_image, clean_env, monkeypatch, cleanup
):
    """Issue 16: a bad manifest no longer stops the dashboard: its card says the line and the fix,
    the other apps work, and fixing, adding or removing files updates the cards without a restart."""
    monkeypatch.setattr(AppService, "manifest_poll_s", 0.05)
    port = free_port()
    (layout.user_apps_dir / "stand-in.toml").write_text(manifest("stand-in", busybox_image, port))
    broken = layout.user_apps_dir / "broken.toml"
    broken.write_text('name = "broken"\nimage = "x"\nport = "high"\n')
    async with running_services(layout) as services:
        app = make_app(services)
        async with app.run_test(size=(140, 45)) as pilot:
            await until(pilot, lambda: app.ui.engine_ok is True, what="the engine")
            await until(pilot, lambda: app.screen.query("#card-broken"), what="the broken card")
            card = app.screen.query_one("#card-broken", AppCard)
            text = shown_text(card)
            assert "● broken" in text
            assert "config/apps/broken.toml line 3, key port: Input should be a valid integer" in text
            assert "(got 'high'). Fix: correct the value (the file was left as it is)" in text
            card.focus()
            await pilot.press("s")
            await until(pilot, lambda: any("line 3, key port" in n.message for n in toasts(app)))

            app.screen.query_one("#card-stand-in", AppCard).focus()
            await pilot.press("s")
            await until(pilot, lambda: "● ready" in card_text(app, "stand-in"), what="the other app ready")

            broken.write_text(manifest("broken", busybox_image, free_port(), title='"Mended"'))
            await until(pilot, lambda: "Mended" in card_text(app, "broken"), what="the mended card")
            assert "● stopped" in card_text(app, "broken")
            (layout.user_apps_dir / "late.toml").write_text(manifest("late", busybox_image, free_port()))
            await until(pilot, lambda: app.screen.query("#card-late"), what="the new app's card")
            broken.unlink()
            await until(pilot, lambda: not app.screen.query("#card-broken"), what="the card to go")


async def test_a_failed_pull_and_a_restart_elsewhere_show_the_truth_on_the_card(
    layout, busybox_image, registry, clean_env, cleanup
):
    """Issue 16: a pull failure is a few whole words and the fix on the card; a restart by another
    process (the CLI) ends "ready" with the URL, not "waiting for UI"."""
    port = free_port()
    (layout.user_apps_dir / "stand-in.toml").write_text(manifest("stand-in", busybox_image, port))
    (layout.user_apps_dir / "ghost.toml").write_text(manifest("ghost", f"{registry}/aiui-test/nope:1", free_port()))
    async with running_services(layout) as services:
        app = make_app(services)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.ui.engine_ok is True, what="the engine")
            await until(pilot, lambda: app.screen.query("#card-ghost"), what="the card")
            app.screen.query_one("#card-ghost", AppCard).focus()
            await pilot.press("s")
            await until(pilot, lambda: "pull failed" in card_text(app, "ghost"), what="the pull failure")
            await pilot.pause()
            text = shown_text(app.screen.query_one("#card-ghost", AppCard))
            assert f"pull failed: no such image on {registry}" in text
            assert "Fix: check the image's name and tag (apps.overrides.ghost.image in config/aiui.toml)" in text
            assert "http+docker" not in text

            other, _ = await open_service(layout, services.config, supervise=False)  # the CLI's own
            try:
                first = await other.start_app("stand-in")
                again = await other.restart_app("stand-in")  # as `aiui-tui app restart` does
            finally:
                await other.close()
            assert again.container_id != first.container_id
            view = lambda: app.ui.apps["stand-in"].status  # noqa: E731
            await until(
                pilot,
                lambda: view().container_id == again.container_id and "● ready" in card_text(app, "stand-in"),
                what="ready after the restart elsewhere",
            )
            assert f"http://127.0.0.1:{port}/" in card_text(app, "stand-in")


async def test_update_asks_first_when_the_app_is_running(
    layout, busybox_image, docker_client, registry, tmp_path, clean_env, cleanup
):
    """Issue 16: `u` on a running app with an update recreates its container only after a yes."""
    image = f"{registry}/aiui-test/update:{int(time.time() * 1000)}"
    docker_client.images.get(busybox_image).tag(image)
    for line in docker_client.images.push(image, stream=True, decode=True):
        assert "error" not in line, line
    (layout.user_apps_dir / "upd.toml").write_text(manifest("upd", image, free_port()))
    async with running_services(layout) as services:
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.ui.engine_ok is True, what="the engine")
            await until(pilot, lambda: app.screen.query("#card-upd"), what="the card")
            app.screen.query_one("#card-upd", AppCard).focus()
            await pilot.press("s")
            await until(pilot, lambda: "● ready" in card_text(app, "upd"), what="ready")
            running = app.ui.apps["upd"].status.container_id
            # A newer image under the same tag on the registry; the engine keeps the old one.
            old_id = docker_client.images.get(image).id
            context = build_busybox_context(tmp_path / "ctx", {"new.bin": os.urandom(1000)})
            docker_client.images.build(path=str(context), tag=image, rm=True)
            for line in docker_client.images.push(image, stream=True, decode=True):
                assert "error" not in line, line
            docker_client.images.get(old_id).tag(image)

            await pilot.press("u")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
            assert "upd is running: updating recreates its container" in app.screen.question
            await pilot.press("n")
            await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="the answer")
            await pilot.pause()
            assert app.ui.apps["upd"].status.container_id == running  # nothing recreated on a no

            await pilot.press("u")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question again")
            await pilot.press("y")
            await until(
                pilot,
                lambda: app.ui.apps["upd"].status.container_id != running and "● ready" in card_text(app, "upd"),
                what="recreated on the new image",
            )
        with contextlib.suppress(Exception):
            docker_client.images.remove(image, force=True)
