"""The apps service's seams: one helper for blocking streams, one start of an app at a time, an intent
that fails at once while the engine is known down, cards that say why they are "unknown", and one
answer to which apps are enabled (the CLI and the dashboard agree)."""

from __future__ import annotations

import asyncio
import json
import queue
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiui_tui.config import Config, Docker
from aiui_tui.core.apps import READY, UNKNOWN
from aiui_tui.core.errors import EngineUnavailable
from aiui_tui.core.events import AppStateChanged, EngineStateChanged
from aiui_tui.services.apps.spec import LABEL_APP, LABEL_GPU, LABEL_INSTANCE_OF, LABEL_ROOT
from aiui_tui.services.apps.threaded import iterate_in_thread
from tests.apps.test_docker_apps import free_port, manifest, open_service
from tests.cli_inprocess import main_cli

# -- iterate_in_thread ----------------------------------------------------------------------------


async def test_items_arrive_in_order_then_the_iterators_error():
    seen_on: list[str] = []

    def numbers() -> Iterator[int]:
        seen_on.append(threading.current_thread().name)
        yield 1
        yield 2
        raise ValueError("the stream broke")

    got = []
    with pytest.raises(ValueError, match="the stream broke"):
        async for n in iterate_in_thread(numbers(), name="numbers reader"):
            got.append(n)
    assert got == [1, 2]
    assert seen_on == ["numbers reader"]  # read on its own thread, not the loop's


async def test_a_consumer_that_stops_early_closes_the_stream_and_ends_the_thread():
    wake: queue.Queue[str | None] = queue.Queue()
    closed = threading.Event()

    def blocking() -> Iterator[str]:
        while (item := wake.get()) is not None:  # blocks between items, as a docker stream does
            yield item

    def close() -> None:
        closed.set()
        wake.put(None)

    wake.put("first")
    async for item in (stream := iterate_in_thread(blocking(), name="blocking reader", close=close)):
        assert item == "first"
        break
    await stream.aclose()
    assert closed.is_set()
    for _ in range(200):
        if not any(t.name == "blocking reader" for t in threading.enumerate()):
            break
        await asyncio.sleep(0.01)
    assert not any(t.name == "blocking reader" for t in threading.enumerate())


# -- the engine known down -----------------------------------------------------------------------


@pytest.fixture
def refusing_engine() -> Iterator[str]:
    """A unix socket that exists and refuses connections (an engine that is stopped)."""
    folder = Path(tempfile.mkdtemp(prefix="aiui-engine-", dir="/tmp"))  # short: unix socket paths are <108 bytes
    path = folder / "docker.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))  # bound, never listening: connect() is refused
    try:
        yield f"unix://{path}"
    finally:
        sock.close()
        path.unlink(missing_ok=True)
        folder.rmdir()


async def test_an_intent_while_the_engine_is_known_down_fails_at_once_with_its_error(layout, refusing_engine):
    service, events = await open_service(layout, Config(docker=Docker(host=refusing_engine)))
    try:
        await events.wait(lambda e: isinstance(e, EngineStateChanged) and not e.available)
        problem = service.engine_problem
        assert problem is not None and refusing_engine in problem.message
        for intent in (service.start_app, service.stop_app, service.logs):
            began = time.monotonic()
            with pytest.raises(EngineUnavailable) as err:
                await intent("fooocus")
            assert time.monotonic() - began < 0.5  # the bound; waiting for the engine took 5 s
            assert err.value.message == problem.message and err.value.fix == problem.fix
    finally:
        await service.close()


async def test_cards_left_unknown_by_the_engine_going_away_say_why(layout, refusing_engine):
    service, events = await open_service(layout, Config(docker=Docker(host=refusing_engine)))
    try:
        down = await events.wait(lambda e: isinstance(e, EngineStateChanged) and not e.available)
        changed = await events.wait(lambda e: isinstance(e, AppStateChanged) and e.name == "comfyui")
        assert changed.status.state == UNKNOWN and changed.status.reason == down.reason
        assert service.status("comfyui").reason == down.reason
    finally:
        await service.close()


# -- one start of an app at a time ------------------------------------------------------------------


@pytest.mark.docker
async def test_two_starts_of_one_app_at_once_make_one_container(layout, busybox_image, docker_client, cleanup):
    (layout.user_apps_dir / "twice.toml").write_text(manifest("twice", busybox_image, free_port()))
    service, _ = await open_service(layout, supervise=False)
    try:
        first, second = await asyncio.gather(service.start_app("twice"), service.start_app("twice"))
        assert first.state == READY and second == first  # the second waited for the first and got its status
        ours = docker_client.containers.list(
            all=True, filters={"label": [f"{LABEL_APP}=twice", f"{LABEL_ROOT}={layout.root}"]}
        )
        assert [c.id for c in ours] == [first.container_id]
        assert ours[0].status == "running"
    finally:
        await service.close()


# -- which apps are enabled: one answer, two surfaces ---------------------------------------------


@pytest.mark.docker
async def test_the_cli_and_the_dashboard_agree_on_which_apps_are_enabled(
    layout, busybox_image, docker_client, cleanup, clean_env
):
    from aiui_tui.tui.app import make_app
    from aiui_tui.tui.widgets.app_card import AppCard
    from tests.tui.conftest import running_services, until

    layout.config_file.write_text('[apps]\nenabled = ["fooocus"]\n')
    labels = {LABEL_APP: "fooocus-gpu1", LABEL_INSTANCE_OF: "fooocus", LABEL_GPU: "1", LABEL_ROOT: str(layout.root)}
    docker_client.containers.create(busybox_image, ["true"], labels=labels, network_mode="none")  # an instance

    listed = await asyncio.to_thread(main_cli, "--root", str(layout.root), "app", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row["enabled"] for row in json.loads(listed.stdout)["apps"]}
    assert rows["fooocus-gpu1"] is True  # enabled by its app, fooocus
    assert rows["comfyui"] is False

    async with running_services(layout, run_downloads=False) as services:
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.screen.query("#card-fooocus-gpu1"), what="the instance's card")
            cards = {card.app_name for card in app.screen.query(AppCard)}
        assert services.apps.enabled("fooocus-gpu1") and not services.apps.enabled("comfyui")
    assert cards == {name for name, enabled in rows.items() if enabled}


# -- a failed start, told by the engine's error class -------------------------------------------------


def _api_error(status: int, explanation: str) -> Exception:
    import docker.errors
    import requests

    response = requests.Response()
    response.status_code = status
    return docker.errors.APIError(f"{status} Server Error", response=response, explanation=explanation)


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            _api_error(500, 'could not select device driver "" with capabilities: [[gpu]]'),
            "cannot give the container a GPU",
        ),
        (
            _api_error(500, "driver failed programming external connectivity: port is already allocated"),
            "is already in use",
        ),
        (
            _api_error(404, "no such image: port is already allocated"),
            "did not start: no such image",
        ),  # a 404 is no port clash
        (OSError("connection reset by peer"), "did not start: connection reset by peer"),
    ],
)
def test_a_failed_start_is_told_by_the_engines_error_class_and_status(error, said):
    from aiui_tui.services.apps.lifecycle import start_error
    from aiui_tui.services.apps.manifest import load_manifests

    fooocus = load_manifests(Path("/nonexistent")).apps["fooocus"].manifest
    assert said in start_error(fooocus, error).message
