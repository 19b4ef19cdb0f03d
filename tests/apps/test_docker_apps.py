"""Apps against the real Docker engine: a busybox httpd stands in for a web UI (host network, loopback)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from pathlib import Path

import aiohttp
import pytest

from aiui_tui.bus import Bus
from aiui_tui.config import Config
from aiui_tui.core.apps import EXITED, NOT_CREATED, READY, STOPPED, UNKNOWN
from aiui_tui.core.events import AppPullProgress, AppStateChanged, ContainerStats, EngineStateChanged, Notice
from aiui_tui.services.apps import AppService
from aiui_tui.services.apps.errors import AppError
from aiui_tui.services.apps.spec import LABEL_APP, LABEL_ROOT, container_name
from tests.conftest import build_busybox_context

pytestmark = pytest.mark.docker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manifest(name: str, image: str, port: int, command: str | None = None, network: str = "host", **extra) -> str:
    command = command or '["httpd", "-f", "-p", "127.0.0.1:{port}", "-h", "/www"]'
    lines = [
        f'name = "{name}"', f'image = "{image}"', f"command = {command}", f"port = {port}",
        f'network = "{network}"', 'gpu = "none"', *(f"{k} = {v}" for k, v in extra.items()),
        "[ready]", 'http_path = "/"', "timeout_s = 15",
        "[mounts]", 'outputs = "/www/outputs"',
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


class Events:
    def __init__(self, bus: Bus) -> None:
        self.seen: list = []
        bus.subscribe(self.seen.append)

    def of(self, kind):
        return [e for e in self.seen if isinstance(e, kind)]

    async def wait(self, predicate, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.seen if predicate(e)]
            if found:
                return found[0]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no such event; saw {[type(e).__name__ for e in self.seen][-20:]}")


async def open_service(layout, config: Config | None = None, *, supervise: bool = True):
    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    events = Events(bus)
    service = AppService(layout, config or Config(), bus)
    await service.start(supervise=supervise)
    return service, events


async def test_start_ready_stats_logs_stop(layout, busybox_image, cleanup):
    port = free_port()
    (layout.user_apps_dir / "stand-in.toml").write_text(manifest("stand-in", busybox_image, port))
    service, events = await open_service(layout)
    try:
        await events.wait(lambda e: isinstance(e, EngineStateChanged) and e.available)
        assert service.status("stand-in").state == NOT_CREATED
        status = await service.start_app("stand-in")
        assert status.state == READY and status.url == f"http://127.0.0.1:{port}/"
        stats = await events.wait(lambda e: isinstance(e, ContainerStats) and e.name == "stand-in")
        assert stats.memory_used > 0 and stats.memory_limit > 0
        states = [e.status.state for e in events.of(AppStateChanged) if e.name == "stand-in"]
        assert states[-2:] == ["starting", "ready"]
        stopped = await service.stop_app("stand-in")
        assert stopped.state == STOPPED
        await asyncio.sleep(0.5)
        assert service.status("stand-in").state == STOPPED  # the "die" event is not taken for a crash
    finally:
        await service.close()


async def test_logs_and_follow(layout, busybox_image, cleanup):
    port = free_port()
    command = f'["sh", "-c", "echo first; echo second; exec httpd -f -p 127.0.0.1:{port} -h /www"]'
    (layout.user_apps_dir / "talker.toml").write_text(manifest("talker", busybox_image, port, command))
    service, _ = await open_service(layout, supervise=False)
    try:
        await service.start_app("talker")
        assert await service.logs("talker") == ["first", "second"]
        lines = []
        async for line in service.follow_logs("talker", tail=1):
            lines.append(line)
            break
        assert lines == ["second"]
    finally:
        await service.close()


async def test_a_crash_at_start_reports_the_exit_code_and_last_lines(layout, busybox_image, cleanup):
    command = '["sh", "-c", "echo loading model; echo CUDA out of memory; exit 3"]'
    (layout.user_apps_dir / "crash.toml").write_text(manifest("crash", busybox_image, free_port(), command))
    service, _ = await open_service(layout, supervise=False)
    try:
        with pytest.raises(AppError) as err:
            await service.start_app("crash")
        assert "exited with code 3 while starting" in err.value.message
        assert err.value.last_lines == ("loading model", "CUDA out of memory")
        assert service.status("crash").state == EXITED and service.status("crash").exit_code == 3
    finally:
        await service.close()


async def test_a_container_dying_later_is_reported_with_its_exit_code(layout, busybox_image, cleanup):
    port = free_port()
    command = f'["sh", "-c", "httpd -p 127.0.0.1:{port} -h /www; sleep 2; echo segfault; exit 139"]'
    (layout.user_apps_dir / "dies.toml").write_text(manifest("dies", busybox_image, port, command))
    service, events = await open_service(layout)
    try:
        await events.wait(lambda e: isinstance(e, EngineStateChanged) and e.available)
        await service.start_app("dies")
        exited = await events.wait(lambda e: isinstance(e, AppStateChanged) and e.status.state == EXITED)
        assert exited.status.exit_code == 139 and "segfault" in exited.status.last_lines
    finally:
        await service.close()


async def test_bridge_apps_publish_on_loopback_only(layout, busybox_image, docker_client, cleanup):
    (layout.user_apps_dir / "bridged.toml").write_text(manifest("bridged", busybox_image, 7865, network="bridge"))
    service, _ = await open_service(layout, supervise=False)
    try:
        spec = await service._spec(service.manifest("bridged"), None)
        container = await asyncio.to_thread(service._recreate, service.client, spec)
        bindings = docker_client.api.inspect_container(container.id)["HostConfig"]["PortBindings"]
        assert bindings == {"7865/tcp": [{"HostIp": "127.0.0.1", "HostPort": "7865"}]}
    finally:
        await service.close()


async def test_containers_we_did_not_create_are_never_listed_or_touched(layout, busybox_image, docker_client, cleanup):
    port = free_port()
    stranger = docker_client.containers.run(
        busybox_image, ["sleep", "60"], detach=True, labels={LABEL_APP: "stand-in"}, network_mode="none"
    )
    other_root = docker_client.containers.run(
        busybox_image, ["sleep", "60"], detach=True, network_mode="none",
        labels={LABEL_APP: "stand-in", LABEL_ROOT: "/somewhere/else"},
    )  # fmt: skip
    try:
        (layout.user_apps_dir / "stand-in.toml").write_text(manifest("stand-in", busybox_image, port))
        service, _ = await open_service(layout, supervise=False)
        try:
            assert service.status("stand-in").state == NOT_CREATED
            await service.stop_app("stand-in")
            for c in (stranger, other_root):
                c.reload()
                assert c.status == "running"
        finally:
            await service.close()
    finally:
        for c in (stranger, other_root):
            c.remove(force=True)


async def test_a_name_clash_with_a_foreign_container_is_refused(layout, busybox_image, docker_client, cleanup):
    port = free_port()
    (layout.user_apps_dir / "stand-in.toml").write_text(manifest("stand-in", busybox_image, port))
    squatter = docker_client.containers.create(busybox_image, ["true"], name=container_name("stand-in", layout.root))
    try:
        service, _ = await open_service(layout, supervise=False)
        try:
            with pytest.raises(AppError, match="was not created by aiui-tui"):
                await service.start_app("stand-in")
        finally:
            await service.close()
        squatter.reload()  # still there
    finally:
        squatter.remove(force=True)


async def test_adopts_its_running_containers_after_a_restart(layout, busybox_image, cleanup):
    port = free_port()
    (layout.user_apps_dir / "stand-in.toml").write_text(manifest("stand-in", busybox_image, port))
    first, _ = await open_service(layout, supervise=False)
    await first.start_app("stand-in")
    await first.close()
    second, events = await open_service(layout, supervise=False)
    try:
        status = second.status("stand-in")
        assert status.state == READY and status.url == f"http://127.0.0.1:{port}/"
        await events.wait(lambda e: isinstance(e, ContainerStats))
    finally:
        await second.close()


def push_layered_image(docker_client, registry: str, tmp_path: Path) -> str:
    """A three-layer image on the local registry, absent from the engine afterwards."""
    context = build_busybox_context(tmp_path / "ctx", {"a.bin": os.urandom(3_000_000), "b.bin": os.urandom(2_000_000)})
    tag = f"{registry}/aiui-test/layers:{int(time.time() * 1000)}"
    docker_client.images.build(path=str(context), tag=tag, rm=True)
    for line in docker_client.images.push(tag, stream=True, decode=True):
        assert "error" not in line, line
    docker_client.images.remove(tag, force=True)
    return tag


async def test_pull_from_the_local_registry_reports_layer_progress(
    layout, docker_client, registry, tmp_path, busybox_image, cleanup
):
    image = push_layered_image(docker_client, registry, tmp_path)
    port = free_port()
    (layout.user_apps_dir / "pulled.toml").write_text(manifest("pulled", image, port))
    service, events = await open_service(layout, supervise=False)
    try:
        status = await service.start_app("pulled")
        assert status.state == READY
        pulls = events.of(AppPullProgress)
        assert pulls, "no pull progress events"
        last = pulls[-1]
        assert last.layers_total >= 3 and last.layers_done == last.layers_total
        assert last.done >= 5_000_000
        assert any(p.done < last.done for p in pulls)  # progress moved
    finally:
        await service.close()
        docker_client.images.remove(image, force=True)


async def test_engine_restart_mid_monitoring_is_reported_and_recovered(layout, private_engine, tmp_path):
    private_engine.start()
    import docker

    client = docker.DockerClient(base_url=private_engine.host, timeout=120)
    context = build_busybox_context(tmp_path / "ctx")
    client.images.build(path=str(context), tag="aiui-test/busybox:1", rm=True)
    port = free_port()
    (layout.user_apps_dir / "stand-in.toml").write_text(manifest("stand-in", "aiui-test/busybox:1", port))
    config = Config()
    config.docker.host = private_engine.host
    config.docker.timeout_s = 5
    service, events = await open_service(layout, config)
    try:
        await events.wait(lambda e: isinstance(e, EngineStateChanged) and e.available)
        await service.start_app("stand-in")
        events.seen.clear()
        private_engine.stop()
        lost = await events.wait(lambda e: isinstance(e, EngineStateChanged) and not e.available, timeout=30)
        assert "not reachable" in lost.reason and lost.fix
        assert service.status("stand-in").state == UNKNOWN
        private_engine.start()
        await events.wait(lambda e: isinstance(e, EngineStateChanged) and e.available, timeout=60)
        # dockerd stops containers on shutdown (no live-restore): re-adopted as stopped, not forgotten
        assert service.status("stand-in").state in (STOPPED, EXITED)
        assert service.status("stand-in").container_id is not None
        status = await service.start_app("stand-in")
        assert status.state == READY
    finally:
        await service.close()
        client.close()


async def test_update_check_compares_the_local_digest_with_the_registry(
    layout, docker_client, registry, tmp_path, busybox_image, cleanup
):
    image = push_layered_image(docker_client, registry, tmp_path)
    port = free_port()
    (layout.user_apps_dir / "updatable.toml").write_text(manifest("updatable", image, port))
    service, _ = await open_service(layout, supervise=False)
    try:
        available, why = await service.check_update("updatable")
        assert available and "not pulled yet" in why
        assert (await service.start_app("updatable")).state == READY
        available, why = await service.check_update("updatable")
        assert not available and "up to date" in why
        old_id = docker_client.images.get(image).id
        # A new image is pushed under the same tag; the engine keeps the old one under it, as a stale install would.
        context = build_busybox_context(tmp_path / "ctx2", {"c.bin": os.urandom(100_000)})
        docker_client.images.build(path=str(context), tag=image, rm=True)
        for line in docker_client.images.push(image, stream=True, decode=True):
            assert "error" not in line, line
        docker_client.images.get(old_id).tag(image)
        available, why = await service.check_update("updatable")
        assert available and "update available" in why
        status = await service.update_app("updatable")
        assert status.state == READY
        assert (await service.check_update("updatable"))[0] is False
    finally:
        await service.close()
        with contextlib.suppress(Exception):
            docker_client.images.remove(image, force=True)


async def test_a_library_symlink_to_another_disk_is_readable_inside_the_container(
    layout, busybox_image, tmp_path, cleanup
):
    outside = tmp_path / "disk2" / "big.safetensors"
    outside.parent.mkdir()
    outside.write_bytes(b"model bytes from another disk")
    (layout.kind_dir("checkpoints") / "big.safetensors").symlink_to(outside)
    (layout.kind_dir("checkpoints") / "rel.safetensors").symlink_to(
        os.path.relpath(outside, layout.kind_dir("checkpoints"))
    )
    port = free_port()
    text = manifest("reader", busybox_image, port).replace(
        "[mounts]", '[mounts]\nmodels = { checkpoints = "/www/ckpt" }'
    )
    (layout.user_apps_dir / "reader.toml").write_text(text)
    service, _ = await open_service(layout, supervise=False)
    try:
        status = await service.start_app("reader")
        assert status.state == READY
        url = f"http://127.0.0.1:{port}/ckpt/big.safetensors"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            assert response.status == 200
            assert await response.read() == b"model bytes from another disk"
        spec = await service._spec(service.manifest("reader"), None)
        assert spec.volumes[str(outside.parent)] == {"bind": str(outside.parent), "mode": "ro"}
        assert any("relative link to outside the data root" in w for w in spec.warnings)
    finally:
        await service.close()


# --- ports and listeners (issue 15: 8, 9) ------------------------------------------------------


class OtherProgram:
    """Another program on this machine answering HTTP on 127.0.0.1:port (a real socket server)."""

    def __init__(self, port: int) -> None:
        import http.server
        import threading

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_a_host_network_app_whose_port_is_taken_is_refused_before_it_starts(layout, busybox_image, cleanup):
    port = free_port()
    (layout.user_apps_dir / "clash.toml").write_text(manifest("clash", busybox_image, port))
    other = OtherProgram(port)
    service, _ = await open_service(layout, supervise=False)
    try:
        with pytest.raises(AppError) as err:
            await service.start_app("clash")
        assert f"port {port} on 127.0.0.1 is already in use by another program" in err.value.message
        assert "apps.overrides.clash.host_port" in err.value.fix
        assert service.status("clash").state == NOT_CREATED  # no container, no "ready", no URL
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/") as response:
            assert response.status == 200  # the other program still serves
    finally:
        other.close()
        await service.close()


async def test_a_restart_of_a_running_host_network_app_is_not_taken_for_a_clash(layout, busybox_image, cleanup):
    port = free_port()
    (layout.user_apps_dir / "stand-in.toml").write_text(manifest("stand-in", busybox_image, port))
    service, _ = await open_service(layout, supervise=False)
    try:
        first = await service.start_app("stand-in")
        again = await service.start_app("stand-in")  # replaces its own container on its own port
        assert again.state == READY and again.container_id != first.container_id
    finally:
        await service.close()


async def test_a_host_network_app_listening_on_all_addresses_is_stopped_when_the_bind_address_is_loopback(
    layout, busybox_image, docker_client, cleanup
):
    port = free_port()
    command = '["httpd", "-f", "-p", "0.0.0.0:{port}", "-h", "/www"]'  # ignores {listen}
    (layout.user_apps_dir / "wide.toml").write_text(manifest("wide", busybox_image, port, command))
    service, _ = await open_service(layout, supervise=False)
    try:
        with pytest.raises(AppError) as err:
            await service.start_app("wide")
        assert f"listens on 0.0.0.0:{port}, reachable from other machines" in err.value.message
        assert "it was stopped" in err.value.message and "{listen}" in err.value.fix
        assert service.status("wide").state == STOPPED
        (container,) = docker_client.containers.list(all=True, filters={"label": "aiui.app=wide"})
        assert container.status == "exited"
    finally:
        await service.close()


async def test_listening_on_all_addresses_is_allowed_when_the_user_chose_so(layout, busybox_image, cleanup):
    port = free_port()
    command = '["httpd", "-f", "-p", "0.0.0.0:{port}", "-h", "/www"]'
    (layout.user_apps_dir / "wide.toml").write_text(manifest("wide", busybox_image, port, command))
    config = Config()
    config.network.bind_address = "0.0.0.0"
    service, events = await open_service(layout, config, supervise=False)
    try:
        status = await service.start_app("wide")
        assert status.state == READY
        assert any("reachable from other machines" in n.message for n in events.of(Notice))
    finally:
        await service.close()


def test_engine_refusals_no_intent_names_are_one_line(docker_client, busybox_image):
    """What the engine answers outside the service's own errors (a container gone, a refused
    request) reaches the CLI as one line, not the catch-all (issue 15)."""
    import docker.errors

    from aiui_tui.services.engine import engine_refusal

    with pytest.raises(docker.errors.NotFound) as gone:
        docker_client.containers.get("aiui-test-no-such-container")
    problem = engine_refusal(gone.value, "unix:///var/run/docker.sock")
    assert problem is not None and "no longer knows" in problem.message and "\n" not in problem.message
    with pytest.raises(docker.errors.APIError) as refused:
        docker_client.containers.create(busybox_image, ["true"], working_dir="relative")
    problem = engine_refusal(refused.value, "unix:///var/run/docker.sock")
    assert problem is not None and "refused" in problem.message and "absolute" in problem.message
    assert engine_refusal(ValueError("a bug"), "unix:///x") is None  # bugs stay bugs
