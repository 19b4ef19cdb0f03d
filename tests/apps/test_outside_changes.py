"""The dashboard's service follows what other processes and the user's editor change (issue 16, 4 and 7):
a restart from the CLI ends "ready", not "waiting for UI"; a stop from elsewhere is "stopped", not a
crash; manifests added, edited, broken or removed in config/apps are noticed without a restart; an
app that exited before anyone looked shows its real exit code.

"Another process" is a second AppService on its own Docker connection, as `aiui-tui app restart` is.
"""

from __future__ import annotations

import asyncio

import pytest

from aiui_tui.bus import Bus
from aiui_tui.config import Config
from aiui_tui.core.apps import BROKEN, EXITED, NOT_CREATED, READY, STOPPED
from aiui_tui.core.events import AppRemoved, AppStateChanged, EngineStateChanged, Notice
from aiui_tui.services.apps import AppService
from aiui_tui.services.apps.errors import AppError
from tests.apps.test_docker_apps import Events, free_port, manifest, open_service

pytestmark = pytest.mark.docker


async def dashboard_service(layout) -> tuple[AppService, Events]:
    """The service as the dashboard runs it: watching engine events and config/apps (polled fast here)."""
    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    events = Events(bus)
    service = AppService(layout, Config(), bus)
    service.manifest_poll_s = 0.05
    await service.start(supervise=True)
    await events.wait(lambda e: isinstance(e, EngineStateChanged) and e.available)
    return service, events


def states(events: Events, name: str) -> list[str]:
    return [e.status.state for e in events.of(AppStateChanged) if e.name == name]


async def test_a_restart_and_a_stop_by_another_process_end_in_the_true_state(layout, busybox_image, cleanup):
    port = free_port()
    (layout.user_apps_dir / "stand-in.toml").write_text(manifest("stand-in", busybox_image, port))
    dashboard, events = await dashboard_service(layout)
    cli, _ = await open_service(layout, supervise=False)
    try:
        first = await cli.start_app("stand-in")
        await events.wait(lambda e: isinstance(e, AppStateChanged) and e.status.state == READY)
        events.seen.clear()
        restarted = await cli.restart_app("stand-in")
        ready = await events.wait(
            lambda e: (
                isinstance(e, AppStateChanged)
                and e.status.state == READY
                and e.status.container_id == restarted.container_id
            )
        )
        assert restarted.container_id != first.container_id
        assert ready.status.url == f"http://127.0.0.1:{port}/"
        assert dashboard.status("stand-in").state == READY
        assert EXITED not in states(events, "stand-in") and not events.of(Notice)  # a stop is no crash

        events.seen.clear()
        await cli.stop_app("stand-in")
        await events.wait(lambda e: isinstance(e, AppStateChanged) and e.status.state == STOPPED)
        assert EXITED not in states(events, "stand-in") and not events.of(Notice)
    finally:
        await cli.close()
        await dashboard.close()


async def test_an_app_that_exited_before_anyone_looked_shows_its_exit_code(layout, busybox_image, cleanup):
    command = '["sh", "-c", "echo giving up; exit 3"]'
    (layout.user_apps_dir / "crash.toml").write_text(manifest("crash", busybox_image, free_port(), command))
    first, _ = await open_service(layout, supervise=False)
    try:
        with pytest.raises(AppError):
            await first.start_app("crash")
    finally:
        await first.close()
    later, _ = await open_service(layout, supervise=False)  # a new dashboard or `app status`
    try:
        status = later.status("crash")
        assert (status.state, status.exit_code, status.reason) == (EXITED, 3, "exited on its own with code 3")
    finally:
        await later.close()


async def test_manifests_added_edited_broken_and_removed_are_noticed(layout, busybox_image, cleanup):
    dashboard, events = await dashboard_service(layout)
    path = layout.user_apps_dir / "late.toml"
    try:
        path.write_text(manifest("late", busybox_image, free_port()))
        added = await events.wait(lambda e: isinstance(e, AppStateChanged) and e.name == "late")
        assert added.status.state == NOT_CREATED and "late" in dashboard.names()

        path.write_text(manifest("late", busybox_image, free_port(), title='"Late UI"'))
        await events.wait(lambda e: isinstance(e, AppStateChanged) and e.status.title == "Late UI")
        assert dashboard.manifest("late").title == "Late UI"

        path.write_text(manifest("late", busybox_image, free_port()).replace("port = ", 'port = "high" #'))
        broken = await events.wait(lambda e: isinstance(e, AppStateChanged) and e.status.state == BROKEN)
        assert broken.status.reason.startswith(f"{path} line 4, key port:") and broken.status.fix
        notice = await events.wait(lambda e: isinstance(e, Notice))
        assert notice.message == broken.status.reason and "late" not in dashboard.names()

        path.unlink()
        await events.wait(lambda e: isinstance(e, AppRemoved) and e.name == "late")
        assert "late" not in dashboard.names() and "late" not in {s.name for s in dashboard.statuses()}
        assert "fooocus" in dashboard.names()  # the others never left
    finally:
        await dashboard.close()


async def test_starting_a_running_app_again_reports_no_crash_of_the_replaced_container(layout, busybox_image, cleanup):
    """The replaced container is killed and removed by the start itself: a stop, never a crash.
    (Its events were sent before the removal returned; the new one's probe takes longer.)"""
    (layout.user_apps_dir / "stand-in.toml").write_text(manifest("stand-in", busybox_image, free_port()))
    dashboard, events = await dashboard_service(layout)
    try:
        first = await dashboard.start_app("stand-in")
        events.seen.clear()
        again = await dashboard.start_app("stand-in")
        assert again.container_id != first.container_id and dashboard.status("stand-in").state == READY
        assert EXITED not in states(events, "stand-in") and not events.of(Notice)
        assert states(events, "stand-in")[-2:] == ["starting", "ready"]
    finally:
        await dashboard.close()
