"""The link to the Docker engine: connect (and reconnect with backoff), relay its container events,
adopt our containers after a restart, and probe the UIs that another process started."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiui_tui.core.apps import EXITED, NOT_CREATED, READY, STARTING, STOPPED, UNKNOWN
from aiui_tui.core.errors import EngineUnavailable
from aiui_tui.core.events import EngineStateChanged, Notice
from aiui_tui.logs import get_logger
from aiui_tui.services import engine
from aiui_tui.services.apps import readiness
from aiui_tui.services.apps.manifest import AppManifest
from aiui_tui.services.apps.spec import LABEL_APP, LABEL_GPU, LABEL_INSTANCE_OF, LABEL_ROOT
from aiui_tui.services.apps.status_book import docker_time, replace_status
from aiui_tui.services.apps.streams import Streams

log = get_logger(__name__)
_NOT_STOPPING = ("1", "10", "12", "28", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH")  # signals that ask for no exit
RECONNECT_MAX_S = 30.0
PROBE_EVERY_S = 0.5
FIRST_CONNECT_S = 5.0  # how long an intent right after launch waits for the first connection


class EngineLink(Streams):
    async def _connect_once(self) -> bool:
        try:
            connect = engine.connect_read_only if self._read_only else engine.connect
            self.client = await asyncio.to_thread(connect, self.config.docker)
        except EngineUnavailable as exc:
            self._engine_lost(exc)
            return False
        self.engine_problem = None
        if not self._read_only:  # whether GPUs can be given to containers: for starts only
            info = await asyncio.to_thread(self.client.info)
            self._gpu_runtime = engine.has_nvidia_runtime(info)
        await self._adopt()
        self._connected.set()
        self.bus.publish(EngineStateChanged(True, self.address))
        return True

    def _engine_lost(self, exc: EngineUnavailable) -> None:
        first = self.engine_problem is None or self.client is not None
        self.client = None
        self._connected.clear()
        self.engine_problem = exc
        for stop in self._readers.values():
            stop.set()
        self._readers.clear()
        for name, status in list(self._status.items()):
            self._set(name, replace_status(status, state=UNKNOWN, url=None, reason=exc.message))
        if first:
            log.warning("docker engine not reachable", address=self.address, reason=exc.message)
            self.bus.publish(EngineStateChanged(False, self.address, exc.message, exc.fix))

    async def _supervise(self) -> None:
        """Connect, watch engine events; when the engine goes away, say so and reconnect with backoff
        (at once when an intent found it down: `_client`)."""
        pause = 1.0
        while not self._closing.is_set():
            self._retry.clear()
            if not await self._connect_once():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._retry.wait(), pause)
                pause = min(RECONNECT_MAX_S, pause * 2)
                continue
            pause = 1.0
            await self._watch_events()
            if self._closing.is_set():
                return
            self._engine_lost(engine.engine_problem(self.address, ConnectionError("the engine stopped answering")))

    async def wait_connected(self, timeout: float = FIRST_CONNECT_S) -> bool:
        """True once the engine answers (the supervisor connects in the background); at once False
        when the engine is already known to be down."""
        if self.client is None and self._supervisor is not None and self.engine_problem is None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._connected.wait(), timeout)
        return self.client is not None

    async def _client(self) -> Any:
        """The engine's client. An intent right after launch waits a moment for the first connection;
        when the engine is known to be down it fails at once with the engine's error (and the
        supervisor tries again now rather than after its backoff)."""
        if not await self.wait_connected():
            self._retry.set()
            raise self.engine_problem or EngineUnavailable(
                f"Docker engine not reachable at {self.address}.", "start it, or set docker.host in config/aiui.toml"
            )
        return self.client

    async def _watch_events(self) -> None:
        """Relay the engine's container events for our containers until the stream ends."""
        from aiui_tui.services.apps.threaded import iterate_in_thread  # here: commands watch no events

        try:
            stream = await asyncio.to_thread(
                self.client.events,
                decode=True,
                filters={"type": "container", "label": f"{LABEL_ROOT}={self.layout.root}"},
            )
        except Exception:
            return
        self._events_stream = stream
        try:
            async for event in iterate_in_thread(stream, name="docker events"):
                self._on_engine_event(event)
        except Exception as exc:
            log.info("docker event stream ended", reason=str(exc)[:200])
        finally:
            self._events_stream = None

    def _on_engine_event(self, event: dict[str, Any]) -> None:
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        name = attributes.get(LABEL_APP)
        action = str(event.get("Action") or event.get("status") or "")
        container_id = str((event.get("Actor") or {}).get("ID") or event.get("id") or "")
        if not name or name not in self._status:
            return
        status = self._status[name]
        if action in ("kill", "die") and status.container_id not in (None, container_id):
            self._stop_reader(container_id)  # the container this one replaced (a start removes it): old news
            return
        if action == "kill" and attributes.get("signal") not in _NOT_STOPPING:
            self._killed.add(name)  # `docker stop` or another aiui-tui's stop: the "die" that follows is asked for
        elif action == "die":
            self._stop_reader(container_id)
            code = int(attributes.get("exitCode", "0") or 0)
            if name in self._stopping or name in self._killed:
                self._killed.discard(name)
                self._set(name, replace_status(status, state=STOPPED, url=None, exit_code=code, reason=""))
            else:
                task = asyncio.ensure_future(self._report_exit(name, container_id, code))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        elif action == "start" and not (status.state in (STARTING, READY) and status.container_id == container_id):
            # Started by another process (`aiui-tui app restart`, docker start): probe it as ours would be.
            self._killed.discard(name)
            self._set(name, replace_status(status, state=STARTING, container_id=container_id, url=None, reason=""))
            self._start_reader(name, container_id)
            self._probe_later(name, container_id)
        elif action == "destroy" and status.container_id in (None, container_id):
            self._set(name, replace_status(status, state=NOT_CREATED, container_id=None, url=None))

    async def _report_exit(self, name: str, container_id: str, code: int) -> None:
        lines = await self._last_lines(container_id)
        if self.client is None or name not in self._status:
            return  # the engine went away meanwhile (its shutdown stops containers): the state is unknown
        status = self._status[name]
        reason = f"exited on its own with code {code}"
        self._set(name, replace_status(status, state=EXITED, url=None, exit_code=code, reason=reason, last_lines=lines))
        self.bus.publish(Notice("error" if code else "warning", f"{status.title} {reason}.", source="apps"))

    def _probe_later(self, name: str, container_id: str) -> None:
        """Probe the UI of a container that another process started, until it answers (ready), stops,
        is replaced, or its readiness time runs out (then it stays "starting" with the reason)."""
        previous = self._probes.pop(name, None)
        if previous is not None:
            previous.cancel()
        task = asyncio.ensure_future(self._probe_started(name, container_id))
        self._probes[name] = task
        task.add_done_callback(lambda t: self._probes.pop(name, None) if self._probes.get(name) is t else None)

    async def _probe_started(self, name: str, container_id: str) -> None:
        def current() -> bool:
            status = self._status.get(name)
            return status is not None and status.state == STARTING and status.container_id == container_id

        client = self.client
        if client is None or name not in self.apps:
            return
        manifest = self.apps[name].manifest
        try:
            container = await asyncio.to_thread(client.containers.get, container_id)
        except Exception as exc:  # removed meanwhile
            log.debug("probe: container gone", app=name, reason=str(exc)[:200])
            return
        url = readiness.container_url(manifest, container, self.config.network.bind_address)
        probe = url + manifest.ready.http_path.lstrip("/")
        answered = await readiness.answers_within(probe, manifest.ready.timeout_s, current, PROBE_EVERY_S)
        if answered and current():
            self._set(name, replace_status(self._status[name], state=READY, url=url, reason=""))
        elif current():
            reason = f"did not answer at {probe} within {manifest.ready.timeout_s:.0f} s"
            self._set(name, replace_status(self._status[name], reason=reason), announce=True)

    async def _adopt(self, only: set[str] | None = None) -> None:
        """Find our containers (after a restart of aiui-tui or of the engine) and take them back;
        `only` these apps (manifests added while running)."""
        client = self.client
        found = await asyncio.to_thread(
            client.containers.list, all=True, filters={"label": f"{LABEL_ROOT}={self.layout.root}"}
        )
        ours = []
        for container in found:
            name = container.labels.get(LABEL_APP)
            base, gpu = container.labels.get(LABEL_INSTANCE_OF), container.labels.get(LABEL_GPU, "")
            if name not in self.apps and base in self.apps and gpu.isdigit():
                self._add_instance(base, int(gpu))
            if name not in self.apps or (only is not None and name not in only):
                continue
            ours.append((name, container))
        # The running UIs are probed side by side (one look each, up to 2 s), not one after another.
        urls = await asyncio.gather(
            *(self._url_if_ready(self.apps[name].manifest, c) for name, c in ours if c.status == "running")
        )
        answers = iter(urls)
        seen = set()
        for name, container in ours:
            seen.add(name)
            manifest = self.apps[name].manifest
            if container.status == "running":
                url = next(answers)
                status = self._blank(manifest, READY if url else STARTING, container.id)
                started = docker_time((container.attrs.get("State") or {}).get("StartedAt"))
                profile = container.labels.get("aiui.profile", "")
                self._set(name, replace_status(status, url=url, profile=profile, started_at=started))
                self._start_reader(name, container.id)
                if url is None and self._supervisor is not None:
                    self._probe_later(name, container.id)  # still starting (another process started it)
            else:
                code = (container.attrs.get("State") or {}).get("ExitCode")
                stopped = code in (0, 137, 143)
                status = self._blank(manifest, STOPPED if stopped else EXITED, container.id)
                reason = "" if stopped else f"exited on its own with code {code}"
                self._set(name, replace_status(status, exit_code=code, reason=reason))
        for name, loaded in self.apps.items():
            if name not in seen and (only is None or name in only):
                self._set(name, self._blank(loaded.manifest, NOT_CREATED))

    async def _url_if_ready(self, manifest: AppManifest, container: Any) -> str | None:
        url = readiness.container_url(manifest, container, self.config.network.bind_address)
        probe = url + manifest.ready.http_path.lstrip("/")
        if self._read_only:  # one look (app list, app status): the standard library, not aiohttp's ~0.2 s import
            return url if await asyncio.to_thread(readiness.answers_once, probe) else None
        async with readiness.probe_session() as session:
            return url if await readiness.answers(session, probe) else None
