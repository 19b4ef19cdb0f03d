"""Apps in Docker containers: start with pull and readiness, stop, logs, streaming stats, and reconnects.

Every docker SDK call blocks, so it runs in a thread. Long-lived streams (engine events, one stats
reader per running container, followed logs) get daemon threads of their own rather than the shared
executor, which has only a few workers on small machines. Containers carry `aiui.app` and
`aiui.root` labels: the service adopts its own after a restart and never touches anyone else's.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from aiui_tui.bus import Bus
from aiui_tui.config import Config
from aiui_tui.core.apps import (
    BROKEN,
    EXITED,
    NOT_CREATED,
    PULLING,
    READY,
    STARTING,
    STOPPED,
    STOPPING,
    UNKNOWN,
    AppStatus,
)
from aiui_tui.core.errors import AiuiError, EngineUnavailable
from aiui_tui.core.events import AppPullProgress, AppRemoved, AppStateChanged, EngineStateChanged, Notice
from aiui_tui.core.throttle import Throttle
from aiui_tui.logs import get_logger
from aiui_tui.paths import Layout
from aiui_tui.services import engine
from aiui_tui.services.apps import contract, listeners, manifest_watch, network, readiness
from aiui_tui.services.apps.cgroup_stats import CGROUP_ROOT, CgroupPoll, locate
from aiui_tui.services.apps.errors import AppError, unknown_app
from aiui_tui.services.apps.host_files import chown_tree, invoking_ids, make_dirs, merge_json_settings, write_file
from aiui_tui.services.apps.manifest import (
    AppManifest,
    BrokenApp,
    LoadedApp,
    gpu_instance,
    instance_name,
    load_manifests,
)
from aiui_tui.services.apps.pull import PullProgress
from aiui_tui.services.apps.pull_errors import classify, pull_error
from aiui_tui.services.apps.spec import (
    LABEL_APP,
    LABEL_GPU,
    LABEL_INSTANCE_OF,
    LABEL_ROOT,
    ContainerSpec,
    build_spec,
    container_name,
    effective_image,
    resolve_profile,
)
from aiui_tui.services.apps.stats import parse_stats
from aiui_tui.services.ticker import Ticker

log = get_logger(__name__)
LAST_LINES = 20
_NOT_STOPPING = ("1", "10", "12", "28", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH")  # signals that ask for no exit
RECONNECT_MAX_S = 30.0
PROBE_EVERY_S = 0.5


class AppService:
    manifest_poll_s = manifest_watch.POLL_S  # how often the dashboard looks at config/apps for changes

    def __init__(
        self,
        layout: Layout,
        config: Config,
        bus: Bus,
        *,
        extra_manifests: dict | None = None,
        gpu_memory: Callable[[], int | None] | None = None,
        gpu_memory_by_container: Callable[[str], int | None] | None = None,
        gpu_probe: Callable[[], Any] | None = None,
        cgroup_root: Path = CGROUP_ROOT,
        ticker: Ticker | None = None,  # the services' shared clock: the cgroup poll and the manifest watch
    ) -> None:
        self.layout = layout
        self.config = config
        self.bus = bus
        self.extra_manifests = extra_manifests or {}
        self.apps: dict[str, LoadedApp] = {}
        self.broken: dict[str, BrokenApp] = {}  # user manifests that cannot be used, with their errors
        self.client: Any = None
        self.engine_problem: EngineUnavailable | None = None
        self.address = engine.engine_address(config.docker)
        self._gpu_memory = gpu_memory or (lambda: None)
        self._gpu_by_container = gpu_memory_by_container or (lambda _cid: None)
        self._gpu_probe = gpu_probe  # blocking; a GpuProbe (services.monitor.nvml) for --gpu N
        self._loop: asyncio.AbstractEventLoop | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = threading.Event()
        self._connected = asyncio.Event()
        self._status: dict[str, AppStatus] = {}
        self._readers: dict[str, threading.Event] = {}  # container id -> stop flag of its stats reader
        # Container figures: one poll of the cgroup files for all (a local engine), else a stream each.
        self.cgroup_root = cgroup_root
        self.ticker = ticker
        self.stats_poll = CgroupPoll(bus.publish, lambda cid: self._gpu_by_container(cid), ticker=ticker)
        self._streams: set[str] = set()  # containers whose figures come from a Docker stats stream
        self._events_stream: Any = None
        self._stopping: set[str] = set()  # apps we are stopping: their "die" is not a crash
        self._gpu_runtime: bool | None = None
        self._background: set[asyncio.Future] = set()
        self._killed: set[str] = set()  # apps someone (another process) asked to stop: their "die" is no crash
        self._probes: dict[str, asyncio.Task] = {}  # readiness probes of containers another process started
        self._watch: asyncio.Task | None = None
        self._read_only = False  # see `start`

    # -- lifetime -----------------------------------------------------------------------------

    async def start(self, *, supervise: bool = True, read_only: bool = False) -> None:
        """Load manifests and connect; `supervise` keeps watching the engine (the dashboard does).
        `read_only` (app list, app status): statuses only, through the light engine client
        (`engine.connect_read_only`), with no stats readers."""
        self._loop = asyncio.get_running_loop()
        self._read_only = read_only
        folder = self.layout.user_apps_dir
        first = await asyncio.to_thread(manifest_watch.snapshot, folder) if supervise else None
        found = await asyncio.to_thread(load_manifests, folder, self.extra_manifests)
        self.apps = {name: self._with_network_override(loaded) for name, loaded in found.apps.items()}
        self.broken = found.broken
        for name, loaded in self.apps.items():
            self._status[name] = self._blank(loaded.manifest, UNKNOWN)
        for broken in self.broken.values():
            log.warning("app manifest broken", file=broken.source, error=broken.error.one_line())
        if supervise:
            self._supervisor = asyncio.create_task(self._supervise(), name="docker supervisor")
            watcher = manifest_watch.watch(folder, self.reload_manifests, self.manifest_poll_s, first, self.ticker)
            self._watch = asyncio.create_task(watcher, name="app manifests watch")
        else:
            await self._connect_once()

    async def close(self) -> None:
        self._closing.set()
        for stop in self._readers.values():
            stop.set()
        await self.stats_poll.close()
        stream = self._events_stream
        if stream is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(stream.close)
        tasks = [t for t in (self._supervisor, self._watch, *self._probes.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.client is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.client.close)

    def _with_network_override(self, loaded: LoadedApp) -> LoadedApp:
        override = self.config.apps.overrides.get(loaded.manifest.name)
        m = loaded.manifest
        if override is None or override.network is None or override.network == m.network:
            return loaded
        if override.network == "host":  # the UI listens on the host: on the port users open
            port = override.host_port or m.published_port
            m = m.model_copy(update={"network": "host", "port": port, "host_port": None})
        else:
            m = m.model_copy(update={"network": "bridge"})
        return dataclasses.replace(loaded, manifest=m)

    def _add_instance(self, base: str, gpu_index: int) -> str:
        """Register the app's instance on one GPU (a card and a status of its own); its name."""
        name = instance_name(base, gpu_index)
        if name not in self.apps:
            self.apps[name] = gpu_instance(self.apps[base], gpu_index)
            self._set(name, self._blank(self.apps[name].manifest, NOT_CREATED))  # a card of its own
        return name

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
            self._set(name, _replace(status, state=UNKNOWN, url=None, reason=exc.message))
        if first:
            log.warning("docker engine not reachable", address=self.address, reason=exc.message)
            self.bus.publish(EngineStateChanged(False, self.address, exc.message, exc.fix))

    async def _supervise(self) -> None:
        """Connect, watch engine events; when the engine goes away, say so and reconnect with backoff."""
        pause = 1.0
        while not self._closing.is_set():
            if not await self._connect_once():
                await asyncio.sleep(pause)
                pause = min(RECONNECT_MAX_S, pause * 2)
                continue
            pause = 1.0
            await self._watch_events()
            if self._closing.is_set():
                return
            self._engine_lost(engine.engine_problem(self.address, ConnectionError("the engine stopped answering")))

    async def _watch_events(self) -> None:
        """Relay the engine's container events for our containers until the stream ends."""
        assert self._loop is not None
        done = asyncio.Event()
        loop = self._loop
        try:
            stream = await asyncio.to_thread(
                self.client.events,
                decode=True,
                filters={"type": "container", "label": f"{LABEL_ROOT}={self.layout.root}"},
            )
        except Exception:
            return
        self._events_stream = stream

        def pump() -> None:
            try:
                for event in stream:
                    loop.call_soon_threadsafe(self._on_engine_event, event)
            except Exception as exc:
                log.info("docker event stream ended", reason=str(exc)[:200])
            finally:
                loop.call_soon_threadsafe(done.set)

        threading.Thread(target=pump, name="docker events", daemon=True).start()
        await done.wait()
        self._events_stream = None

    def _on_engine_event(self, event: dict) -> None:
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
                self._set(name, _replace(status, state=STOPPED, url=None, exit_code=code, reason=""))
            else:
                task = asyncio.ensure_future(self._report_exit(name, container_id, code))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        elif action == "start" and not (status.state in (STARTING, READY) and status.container_id == container_id):
            # Started by another process (`aiui-tui app restart`, docker start): probe it as ours would be.
            self._killed.discard(name)
            self._set(name, _replace(status, state=STARTING, container_id=container_id, url=None, reason=""))
            self._start_reader(name, container_id)
            self._probe_later(name, container_id)
        elif action == "destroy" and status.container_id in (None, container_id):
            self._set(name, _replace(status, state=NOT_CREATED, container_id=None, url=None))

    async def _report_exit(self, name: str, container_id: str, code: int) -> None:
        lines = await self._last_lines(container_id)
        if self.client is None or name not in self._status:
            return  # the engine went away meanwhile (its shutdown stops containers): the state is unknown
        status = self._status[name]
        reason = f"exited on its own with code {code}"
        self._set(name, _replace(status, state=EXITED, url=None, exit_code=code, reason=reason, last_lines=lines))
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
            self._set(name, _replace(self._status[name], state=READY, url=url, reason=""))
        elif current():
            reason = f"did not answer at {probe} within {manifest.ready.timeout_s:.0f} s"
            self._set(name, _replace(self._status[name], reason=reason), announce=True)

    # -- queries ------------------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self.apps)

    def manifest(self, name: str) -> AppManifest:
        """The app's manifest; a broken one raises its error (file, line, key and the fix)."""
        if name in self.broken:
            raise self.broken[name].error
        if name not in self.apps:
            raise unknown_app(name, self.names())
        return self.apps[name].manifest

    def app_of_container(self, container_id: str) -> str | None:
        for name, status in self._status.items():
            if status.container_id == container_id:
                return name
        return None

    def statuses(self) -> list[AppStatus]:
        """Every app's status, broken manifests included (state "broken", the error as the reason)."""
        found = {name: self._status[name] for name in self.names()}
        found.update((name, broken_status(b)) for name, b in self.broken.items())
        return [found[name] for name in sorted(found)]

    def status(self, name: str) -> AppStatus:
        if name in self.broken:
            return broken_status(self.broken[name])
        self.manifest(name)
        return self._status[name]

    # -- manifests changed on disk -------------------------------------------------------------

    async def reload_manifests(self) -> None:
        """Read the manifests again (config/apps changed): new apps get a status (and their container
        if one exists), edited ones apply from their next start, removed ones go (a running container
        is left running, said in a notice), broken ones are listed with their error."""
        found = await asyncio.to_thread(load_manifests, self.layout.user_apps_dir, self.extra_manifests)
        fresh = {name: self._with_network_override(loaded) for name, loaded in found.apps.items()}
        for name, loaded in self.apps.items():  # instances on one GPU follow their app's manifest
            if loaded.instance_of in fresh and loaded.gpu_index is not None:
                fresh[name] = gpu_instance(fresh[loaded.instance_of], loaded.gpu_index)
        old_apps, old_broken = self.apps, self.broken
        self.apps, self.broken = fresh, found.broken
        added = {name for name in fresh if name not in old_apps}
        for name in sorted(set(old_apps) - set(fresh)):
            status = self._status.pop(name, None)
            if status is not None and status.container_id:
                self._stop_reader(status.container_id)
            if name not in self.broken:
                self.bus.publish(AppRemoved(name))
                if status is not None and status.running:
                    self.bus.publish(
                        Notice(
                            "warning",
                            f"{status.title}'s manifest is gone; its container still runs.",
                            f"docker stop {container_name(name, self.layout.root)}",
                            source="apps",
                        )
                    )
        for name in sorted(set(old_broken) - set(self.broken) - set(fresh)):
            self.bus.publish(AppRemoved(name))
        for name, broken in sorted(self.broken.items()):
            before = old_broken.get(name)
            if before is None or before.error.one_line() != broken.error.one_line():
                log.warning("app manifest broken", file=broken.source, error=broken.error.one_line())
                self.bus.publish(AppStateChanged(name, broken_status(broken), broken.error.message))
                self.bus.publish(Notice("warning", broken.error.message, broken.error.fix, source="apps"))
        for name in sorted(set(fresh) - added):
            if fresh[name] != old_apps[name]:
                status = self._status[name]
                blank = self._blank(fresh[name].manifest, status.state)
                changed = _replace(status, title=blank.title, image=blank.image, source=blank.source)
                self._set(name, changed, announce=True)
        for name in sorted(added):
            self._status[name] = self._blank(fresh[name].manifest, UNKNOWN)
        if added and self.client is not None:
            await self._adopt(only=added)
        else:
            for name in sorted(added):
                self._set(name, self._status[name], announce=True)
        if set(fresh) != set(old_apps) or set(self.broken) != set(old_broken):
            log.info("app manifests reloaded", apps=len(fresh), broken=sorted(self.broken))

    async def wait_connected(self, timeout: float = 5.0) -> bool:
        """True once the engine answers (the supervisor connects in the background)."""
        if self.client is None and self._supervisor is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._connected.wait(), timeout)
        return self.client is not None

    async def _client(self) -> Any:
        """The engine's client; a start intent right after launch waits a moment for the first connection."""
        if not await self.wait_connected():
            raise self.engine_problem or EngineUnavailable(
                f"Docker engine not reachable at {self.address}.", "start it, or set docker.host in config/aiui.toml"
            )
        return self.client

    async def _adopt(self, only: set[str] | None = None) -> None:
        """Find our containers (after a restart of aiui-tui or of the engine) and take them back;
        `only` these apps (manifests added while running)."""
        client = self.client
        found = await asyncio.to_thread(
            client.containers.list, all=True, filters={"label": f"{LABEL_ROOT}={self.layout.root}"}
        )
        seen = set()
        for container in found:
            name = container.labels.get(LABEL_APP)
            base, gpu = container.labels.get(LABEL_INSTANCE_OF), container.labels.get(LABEL_GPU, "")
            if name not in self.apps and base in self.apps and gpu.isdigit():
                self._add_instance(base, int(gpu))
            if name not in self.apps or (only is not None and name not in only):
                continue
            seen.add(name)
            manifest = self.apps[name].manifest
            state = container.status
            if state == "running":
                url = await self._url_if_ready(manifest, container)
                status = self._blank(manifest, READY if url else STARTING, container.id)
                started = _docker_time((container.attrs.get("State") or {}).get("StartedAt"))
                profile = container.labels.get("aiui.profile", "")
                self._set(name, _replace(status, url=url, profile=profile, started_at=started))
                self._start_reader(name, container.id)
                if url is None and self._supervisor is not None:
                    self._probe_later(name, container.id)  # still starting (another process started it)
            else:
                code = (container.attrs.get("State") or {}).get("ExitCode")
                stopped = code in (0, 137, 143)
                status = self._blank(manifest, STOPPED if stopped else EXITED, container.id)
                reason = "" if stopped else f"exited on its own with code {code}"
                self._set(name, _replace(status, exit_code=code, reason=reason))
        for name, loaded in self.apps.items():
            if name not in seen and (only is None or name in only):
                self._set(name, self._blank(loaded.manifest, NOT_CREATED))

    async def _url_if_ready(self, manifest: AppManifest, container: Any) -> str | None:
        url = readiness.container_url(manifest, container, self.config.network.bind_address)
        if self._read_only:  # one look (app list, app status): the standard library, not aiohttp's ~0.2 s import
            probe = url + manifest.ready.http_path.lstrip("/")
            return url if await asyncio.to_thread(readiness.answers_once, probe) else None
        async with readiness.probe_session() as session:
            return url if await readiness.answers(session, url + manifest.ready.http_path.lstrip("/")) else None

    # -- intents ------------------------------------------------------------------------------

    async def gpus(self) -> list[Any]:
        """This machine's NVIDIA GPUs (GpuInfo), or an AppError saying why there are none."""
        probe = await asyncio.to_thread(self._gpu_probe) if self._gpu_probe else None
        if probe is None or not probe.available or not probe.gpus:
            reason = probe.reason if probe is not None and probe.reason else "no NVIDIA GPU found"
            raise AppError(f"One instance per GPU needs NVIDIA GPUs: {reason}.", "run aiui-tui doctor")
        return list(probe.gpus)

    async def start_on_gpu(self, name: str, gpu_index: int, profile: str | None = None) -> AppStatus:
        """Start an instance of the app on one GPU: container NAME-gpuN, port + N, outputs/NAME/gpuN."""
        loaded = self.apps.get(name)
        if loaded is None or loaded.instance_of:
            raise unknown_app(name, [n for n in self.names() if not self.apps[n].instance_of])
        gpus = await self.gpus()
        if not 0 <= gpu_index < len(gpus):
            raise AppError(
                f"There is no GPU {gpu_index}: this machine has {len(gpus)} (0-{len(gpus) - 1}).",
                f"use --gpu 0 to --gpu {len(gpus) - 1}, or --all-gpus",
            )
        return await self.start_app(self._add_instance(name, gpu_index), profile)

    async def start_on_all_gpus(self, name: str, profile: str | None = None) -> list[AppStatus]:
        """One instance per GPU, started side by side; the first failure is raised after all finished."""
        gpus = await self.gpus()
        results = await asyncio.gather(
            *(self.start_on_gpu(name, g.index, profile) for g in gpus), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return list(results)  # type: ignore[arg-type]

    async def start_app(self, name: str, profile: str | None = None) -> AppStatus:
        """Pull when needed, create, start, wait until the UI answers; the ready status with its URL."""
        manifest = self.manifest(name)
        client = await self._client()
        await self._check_network(name, manifest, client)
        spec = await self._spec(manifest, profile)
        if self.apps[name].gpu_index is not None and not spec.gpu:
            raise AppError(
                f"{manifest.display_title} cannot be pinned to a GPU: this engine has no NVIDIA runtime"
                + (" (or the cpu profile is chosen)." if spec.profile == "cpu" else "."),
                "install the NVIDIA Container Toolkit (see aiui-tui doctor), or start it without --gpu",
            )
        for warning in spec.warnings:
            log.warning("app start", app=name, warning=warning)
            self.bus.publish(Notice("warning", warning, source="apps"))
        if manifest.gpu == "required" and not spec.gpu:
            raise AppError(
                f"{manifest.display_title} needs an NVIDIA GPU, and this engine has no NVIDIA runtime.",
                'install the NVIDIA Container Toolkit (see aiui-tui doctor), or set gpu = "auto"',
            )
        attrs = await self._ensure_image(name, spec.image)
        try:
            contract.check(manifest, spec.image, attrs)
        except AppError as exc:
            self._set(name, _replace(self._status[name], state=NOT_CREATED, reason=exc.message))
            raise
        if manifest.arguments_go_to == "image-command":  # the arguments follow the image's own CMD
            spec = await self._spec(manifest, profile, image_cmd=contract.image_facts(attrs)["cmd"])
        await self._check_port_free(manifest)
        self._stopping.discard(name)
        container = await asyncio.to_thread(self._recreate, client, spec)
        self._set(name, _replace(self._blank(manifest, STARTING, container.id), profile=spec.profile, gpu=spec.gpu))
        try:
            await asyncio.to_thread(container.start)
        except Exception as exc:
            raise self._start_error(manifest, exc) from None
        self._start_reader(name, container.id)
        url = await self._wait_ready(manifest, container, spec)
        await self._check_listeners(manifest, container)
        status = _replace(self._status[name], state=READY, url=url, reason="")
        self._set(name, status)
        log.info("app ready", app=name, url=url, profile=spec.profile, gpu=spec.gpu)
        return status

    async def stop_app(self, name: str, timeout: int = 20) -> AppStatus:
        manifest = self.manifest(name)
        client = await self._client()
        container = await self._container(client, name)
        if container is None:
            return self._status[name]
        self._stopping.add(name)
        self._set(name, _replace(self._status[name], state=STOPPING))
        await asyncio.to_thread(container.stop, timeout=timeout)
        self._stop_reader(container.id)
        status = _replace(self._status[name], state=STOPPED, url=None, reason="")
        self._set(name, status)
        if not manifest.run_as_user:
            await self._hand_back_outputs(manifest)
        return status

    async def restart_app(self, name: str, profile: str | None = None) -> AppStatus:
        await self.stop_app(name)
        return await self.start_app(name, profile)

    async def update_app(self, name: str) -> AppStatus:
        """Pull the image again; a running app is recreated on the new image."""
        manifest = self.manifest(name)
        spec = await self._spec(manifest, None)
        before = self._status[name]
        try:
            await self._pull(name, spec.image)
        except AppError:
            self._set(name, before)  # the old image still runs; the failure is raised to the caller
            raise
        if before.running:
            return await self.restart_app(name)
        self._set(name, _replace(before, reason="image updated"))
        return self._status[name]

    async def describe(self, name: str) -> ContainerSpec:
        """The container the app runs (or would run) as: image, command, environment, mounts, ports."""
        manifest = self.manifest(name)
        image_cmd = None
        if manifest.arguments_go_to == "image-command":
            attrs = await self._local_image(effective_image(manifest, self.config, self.apps[name].base))
            image_cmd = contract.image_facts(attrs)["cmd"] if attrs is not None else None
        return await self._spec(manifest, None, image_cmd=image_cmd)

    async def image_contract(self, name: str) -> tuple[str, list[contract.ContractLine] | None]:
        """(image, each contract field against the local image), or None when the image is not pulled."""
        manifest = self.manifest(name)
        image = effective_image(manifest, self.config, self.apps[name].base)
        attrs = await self._local_image(image)
        return image, (contract.compare(manifest, attrs) if attrs is not None else None)

    async def _local_image(self, image: str) -> dict | None:
        import docker.errors

        client = await self._client()
        try:
            found = await asyncio.to_thread(client.images.get, image)
        except docker.errors.ImageNotFound:
            return None
        return found.attrs

    async def check_update(self, name: str) -> tuple[bool, str]:
        """(update available, one line why): the registry's digest for the image's tag against the local image's;
        an AppError when the registry cannot be asked."""
        import docker.errors

        manifest = self.manifest(name)
        image = effective_image(manifest, self.config, self.apps[name].base)
        client = await self._client()
        try:
            remote = await asyncio.to_thread(client.api.inspect_distribution, image)
        except docker.errors.APIError as exc:  # a check that could not run says so: never "up to date"
            failed = f"Could not check {image} for updates"
            raise pull_error(image, str(exc), self.apps[name].base, failed=failed) from None
        digest = (remote.get("Descriptor") or {}).get("digest", "")
        try:
            local = await asyncio.to_thread(client.images.get, image)
        except docker.errors.ImageNotFound:
            return True, f"{image} is not pulled yet"
        repo_digests = local.attrs.get("RepoDigests") or []
        if any(d.endswith("@" + digest) for d in repo_digests):
            return False, f"{image} is up to date ({digest[:19]})"
        return True, f"update available for {image}: registry has {digest[:19]}"

    async def logs(self, name: str, tail: int = 100) -> list[str]:
        client = await self._client()
        container = await self._container(client, name)
        if container is None:
            return []
        return list(await self._last_lines(container.id, tail))

    async def follow_logs(self, name: str, tail: int = 20) -> AsyncIterator[str]:
        """Lines as the container writes them, until it stops (or the consumer stops iterating)."""
        client = await self._client()
        container = await self._container(client, name)
        if container is None:
            return
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        stream = await asyncio.to_thread(container.logs, stream=True, follow=True, tail=tail)

        def pump() -> None:
            pending = b""
            try:
                for chunk in stream:
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        loop.call_soon_threadsafe(queue.put_nowait, line.decode("utf-8", "replace"))
            except Exception:
                pass
            finally:
                if pending:
                    loop.call_soon_threadsafe(queue.put_nowait, pending.decode("utf-8", "replace"))
                loop.call_soon_threadsafe(queue.put_nowait, None)

        threading.Thread(target=pump, name=f"logs {name}", daemon=True).start()
        try:
            while (line := await queue.get()) is not None:
                yield line
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(stream.close)

    # -- starting -----------------------------------------------------------------------------

    async def _spec(
        self, manifest: AppManifest, profile: str | None, *, image_cmd: list[str] | None = None
    ) -> ContainerSpec:
        loaded = self.apps.get(manifest.name)
        base = loaded.base if loaded else manifest.name
        override = self.config.apps.overrides.get(base)
        requested = profile or (override.profile if override and override.profile else None) or self.config.apps.profile
        gpu_available = bool(self._gpu_runtime)
        chosen = resolve_profile(requested, await asyncio.to_thread(self._gpu_memory) if gpu_available else None)
        uid, gid = invoking_ids()
        from aiui_tui.services.library.mounts import outside_link_mounts

        kind_dirs = [self.layout.kind_dir(kind) for kind in manifest.mounts.models]
        link_folders, link_warnings = await asyncio.to_thread(outside_link_mounts, kind_dirs, self.layout.root)
        return build_spec(
            manifest,
            layout=self.layout,
            config=self.config,
            profile=chosen,
            gpu_available=gpu_available,
            uid=uid,
            gid=gid,
            link_folders=link_folders,
            link_warnings=link_warnings,
            instance_of=loaded.instance_of if loaded else None,
            gpu_index=loaded.gpu_index if loaded else None,
            image_cmd=image_cmd,
        )

    async def _ensure_image(self, name: str, image: str) -> dict:
        """The image's inspect attributes, pulling it first when it is not here."""
        attrs = await self._local_image(image)
        if attrs is None:
            await self._pull(name, image)
            attrs = await self._local_image(image)
        if attrs is None:
            raise AppError(f"{image} is not on the engine after its pull.", f"try `docker pull {image}`")
        return attrs

    async def _pull(self, name: str, image: str) -> None:
        repository, tag = _split_image(image)
        self._set(name, _replace(self._status[name], state=PULLING, reason=f"pulling {image}"))
        progress = PullProgress()
        throttle = Throttle(10)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def publish(final: bool = False) -> None:
            if throttle.ready(time.monotonic(), force=final):
                self.bus.publish_threadsafe(
                    AppPullProgress(
                        name, image, progress.done, progress.total, progress.layers_done, len(progress.layers),
                        progress.status,
                    )
                )  # fmt: skip

        def pump() -> None:
            try:
                for message in self.client.api.pull(repository, tag=tag, stream=True, decode=True):
                    progress.feed(message)
                    publish()
                publish(final=True)
                loop.call_soon_threadsafe(_settle, done, None)
            except Exception as exc:
                loop.call_soon_threadsafe(_settle, done, exc)

        threading.Thread(target=pump, name=f"pull {image}", daemon=True).start()
        try:
            await done
        except Exception as exc:
            raise self._pull_failed(name, image, str(exc)) from None
        if progress.error:
            raise self._pull_failed(name, image, progress.error)
        log.info("image pulled", app=name, image=image, bytes=progress.done, layers=len(progress.layers))

    def _pull_failed(self, name: str, image: str, raw: str) -> AppError:
        """The card says what happened in a few words and the fix; the engine's words go to the log."""
        base = self.apps[name].base
        failure = classify(image, raw, base)
        status = _replace(self._status[name], state=NOT_CREATED, reason=f"pull failed: {failure.what}", fix=failure.fix)
        self._set(name, status, announce=True)
        return pull_error(image, raw, base)

    def _recreate(self, client: Any, spec: ContainerSpec) -> Any:
        """A fresh container (config may have changed since the last one); only ours is ever removed."""
        import docker.errors

        try:
            old = client.containers.get(spec.name)
        except docker.errors.NotFound:
            old = None
        if old is not None:
            if old.labels.get(LABEL_ROOT) != spec.labels[LABEL_ROOT]:
                raise AppError(
                    f"A container named {spec.name} exists and was not created by aiui-tui for this data root.",
                    f"rename or remove it yourself (docker rm {spec.name})",
                )
            old.remove(force=True)
        uid, gid = invoking_ids()
        for host_path in spec.folders_to_make():
            make_dirs(host_path, uid, gid)
        for host_path, text in spec.files.items():
            write_file(host_path, text, uid, gid)
        if spec.settings_file:
            merge_json_settings(spec.settings_file, spec.settings, uid, gid)
        return client.containers.create(**spec.create_kwargs())

    def _start_error(self, manifest: AppManifest, exc: Exception) -> AppError:
        text = str(exc)
        if "could not select device driver" in text:
            return AppError(
                f"{manifest.display_title}: Docker cannot give the container a GPU (no NVIDIA runtime).",
                "install the NVIDIA Container Toolkit and restart Docker, or use --profile cpu",
            )
        if "address already in use" in text or "port is already allocated" in text:
            return AppError(
                f"{manifest.display_title}: port {manifest.published_port} is already in use.",
                f"stop what uses it, or set apps.overrides.{manifest.name}.host_port in config/aiui.toml",
            )
        return AppError(f"{manifest.display_title} did not start: {text.splitlines()[0][:200]}", "see logs/aiui.log")

    async def _wait_ready(self, manifest: AppManifest, container: Any, spec: ContainerSpec) -> str:
        """Poll the UI over HTTP; fail with the last log lines when it exits or the time runs out."""
        probe = spec.url + manifest.ready.http_path.lstrip("/")
        deadline = time.monotonic() + manifest.ready.timeout_s
        last_check = 0.0
        async with readiness.probe_session() as session:
            while True:
                if await readiness.answers(session, probe):
                    return spec.url
                now = time.monotonic()
                if now - last_check >= 1.0:
                    last_check = now
                    await asyncio.to_thread(container.reload)
                    if container.status in ("exited", "dead"):
                        code = (container.attrs.get("State") or {}).get("ExitCode")
                        lines = await self._last_lines(container.id)
                        self._set(
                            manifest.name,
                            _replace(self._status[manifest.name], state=EXITED, exit_code=code, last_lines=lines),
                        )
                        raise AppError(
                            f"{manifest.display_title} exited with code {code} while starting.",
                            "read its last log lines below (aiui-tui app logs " + manifest.name + ")",
                            lines,
                        )
                if now > deadline:
                    lines = await self._last_lines(container.id)
                    raise AppError(
                        f"{manifest.display_title} did not answer at {probe} within {manifest.ready.timeout_s:.0f} s.",
                        f"it is still running: see `aiui-tui app logs {manifest.name}`, or raise ready.timeout_s",
                        lines,
                    )
                await asyncio.sleep(PROBE_EVERY_S)

    async def _check_network(self, name: str, manifest: AppManifest, client: Any) -> None:
        """A bridge-mode app on an engine without a bridge network would run unreachable until its
        readiness timeout: refuse it at once, with the fix."""
        if manifest.network != "bridge" or await asyncio.to_thread(network.has_default_bridge, client):
            return
        error = network.no_bridge_error(manifest.display_title, self.apps[name].base)
        status = _replace(self._status[name], reason="no bridge network in Docker", fix=error.fix)
        self._set(name, status, announce=True)
        raise error

    @property
    def _engine_is_local(self) -> bool:
        """Whether this machine's sockets are the engine's (a host-network app listens here)."""
        return self.address.startswith(("unix://", "npipe://"))

    async def _check_port_free(self, manifest: AppManifest) -> None:
        """A host-network app's port must be free: else another program answers its readiness probe
        (and users open that program) while the container exits with "address already in use".
        Bridge apps need no check: Docker refuses to publish a taken port itself."""
        if manifest.network != "host" or not self._engine_is_local:
            return
        ours = await self._container(self.client, manifest.name)
        if ours is not None and ours.status == "running":
            return  # it holds the port itself and is replaced by the new container
        bind = self.config.network.bind_address
        if await asyncio.to_thread(listeners.port_taken, bind, manifest.port):
            self._set(manifest.name, _replace(self._status[manifest.name], reason=f"port {manifest.port} in use"))
            raise AppError(
                f"{manifest.display_title}: port {manifest.port} on {bind} is already in use by another program.",
                f"stop that program (ss -ltnp 'sport = :{manifest.port}' names it), "
                f"or set apps.overrides.{self.apps[manifest.name].base}.host_port to a free port",
            )

    async def _check_listeners(self, manifest: AppManifest, container: Any) -> None:
        """After the UI answered: it is still our container that runs, and on the host network it
        listens only where network.bind_address says. A UI that binds 0.0.0.0 although told to keep
        to loopback is stopped: the user chose loopback, so an open port is never silent."""
        await asyncio.to_thread(container.reload)
        if container.status != "running":
            lines = await self._last_lines(container.id)
            raise AppError(
                f"{manifest.display_title} answered, then exited ({container.status}): what answered was not it.",
                "read its last log lines below; another program may hold its port",
                lines,
            )
        bind = self.config.network.bind_address
        if manifest.network != "host" or not listeners.is_loopback(bind):
            return
        table = await self._proc_net_tcp(container)
        if table is None:
            log.info("could not read the app's listening sockets", app=manifest.name)
            return
        wide = listeners.exposed(listeners.listening_addresses(table, manifest.port))
        if not wide:
            return
        where = ", ".join(sorted(f"{a}:{manifest.port}" for a in wide))
        self._stopping.add(manifest.name)
        await asyncio.to_thread(container.stop, timeout=10)
        self._set(manifest.name, _replace(self._status[manifest.name], state=STOPPED, url=None, reason="exposed"))
        raise AppError(
            f"{manifest.display_title} listens on {where}, reachable from other machines, while "
            f"network.bind_address is {bind}; it was stopped.",
            "make its command listen on {listen} (the manifest's args), or set network.bind_address = "
            '"0.0.0.0" in config/aiui.toml to allow it',
        )

    async def _proc_net_tcp(self, container: Any) -> str | None:
        """The container's view of its TCP sockets (on the host network: the host's)."""

        def read() -> str | None:
            try:
                code, output = container.exec_run(["cat", "/proc/net/tcp", "/proc/net/tcp6"], demux=False)
                if code == 0 and output:
                    return output.decode("utf-8", "replace")
            except Exception as exc:  # an image without cat, an engine refusing exec
                log.debug("exec cat /proc/net/tcp failed", reason=str(exc)[:200])
            if self._engine_is_local:  # the host network is ours too
                text = ""
                for name in ("/proc/net/tcp", "/proc/net/tcp6"):
                    with contextlib.suppress(OSError):
                        text += Path(name).read_text()
                return text or None
            return None

        return await asyncio.to_thread(read)

    async def _hand_back_outputs(self, manifest: AppManifest) -> None:
        """Images that run as root leave root-owned outputs: give them back to the invoking user."""
        uid, gid = invoking_ids()
        if uid == 0:
            return
        loaded = self.apps[manifest.name]
        folder = self.layout.app_outputs_dir(loaded.base)
        if loaded.gpu_index is not None:
            folder = folder / f"gpu{loaded.gpu_index}"
        if os.geteuid() == 0:
            await asyncio.to_thread(chown_tree, folder, uid, gid)
            return
        image = effective_image(manifest, self.config, loaded.base)
        try:
            await asyncio.to_thread(
                self.client.containers.run,
                image,
                ["chown", "-R", f"{uid}:{gid}", "/outputs"],
                entrypoint=[],
                user="0:0",
                volumes={str(folder): {"bind": "/outputs", "mode": "rw"}},
                remove=True,
                network_mode="none",
                labels={LABEL_ROOT: str(self.layout.root)},
            )
        except Exception as exc:
            log.warning("could not hand outputs back", app=manifest.name, reason=str(exc)[:200])
            self.bus.publish(
                Notice("warning", f"{folder} may hold files owned by root.", f"sudo chown -R {uid}:{gid} {folder}")
            )

    # -- helpers ------------------------------------------------------------------------------

    async def _container(self, client: Any, name: str) -> Any:
        found = await asyncio.to_thread(
            client.containers.list,
            all=True,
            filters={"label": [f"{LABEL_APP}={name}", f"{LABEL_ROOT}={self.layout.root}"]},
        )
        return found[0] if found else None

    async def _last_lines(self, container_id: str, tail: int = LAST_LINES) -> tuple[str, ...]:
        client = self.client
        if client is None:
            return ()
        try:
            raw = await asyncio.to_thread(lambda: client.containers.get(container_id).logs(tail=tail))
        except Exception:
            return ()
        return tuple(raw.decode("utf-8", "replace").splitlines()[-tail:])

    def _start_reader(self, name: str, container_id: str) -> None:
        """Figures of a running container: the cgroup poll where its files are readable, else a stream."""
        if container_id in self._readers or self.client is None or self._read_only:
            return
        stop = threading.Event()
        self._readers[container_id] = stop
        task = asyncio.ensure_future(self._watch_stats(name, container_id, stop, self.client))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def stats_source(self, container_id: str) -> str | None:
        """Where a container's figures come from: "cgroup" (the poll), "stream" (Docker's), or None."""
        if self.stats_poll.watching(container_id):
            return "cgroup"
        return "stream" if container_id in self._streams and container_id in self._readers else None

    async def _watch_stats(self, name: str, container_id: str, stop: threading.Event, client: Any) -> None:
        files = None
        if self.address.startswith("unix://"):  # the engine's processes and cgroups are on this machine
            try:
                pid = await asyncio.to_thread(lambda: client.api.inspect_container(container_id)["State"]["Pid"])
                files = await asyncio.to_thread(locate, container_id, pid, root=self.cgroup_root)
            except Exception as exc:
                log.debug("container cgroup not found", container=container_id[:12], reason=str(exc)[:200])
        if stop.is_set() or self._closing.is_set():
            return
        if files is not None:
            self.stats_poll.add(name, container_id, files, stop)
            return
        self._streams.add(container_id)

        def read() -> None:
            try:
                for raw in client.api.stats(container_id, stream=True, decode=True):
                    if stop.is_set() or self._closing.is_set():
                        return
                    if not raw.get("read") or raw.get("read", "").startswith("0001"):
                        continue  # a stopped container's empty sample
                    sample = parse_stats(name, container_id, raw, self._gpu_by_container(container_id))
                    self.bus.publish_threadsafe(sample)
            except Exception as exc:
                log.debug("stats reader ended", app=name, reason=str(exc)[:200])
            finally:
                self._streams.discard(container_id)

        threading.Thread(target=read, name=f"stats {name}", daemon=True).start()

    def _stop_reader(self, container_id: str) -> None:
        stop = self._readers.pop(container_id, None)
        if stop is not None:
            stop.set()
        self.stats_poll.remove(container_id)

    def _blank(self, manifest: AppManifest, state: str, container_id: str | None = None) -> AppStatus:
        loaded = self.apps.get(manifest.name)
        source = loaded.source if loaded else "built-in"
        image = effective_image(manifest, self.config, loaded.base if loaded else None)
        return AppStatus(
            manifest.name, manifest.display_title, state, image=image, container_id=container_id, source=source
        )

    def _set(self, name: str, status: AppStatus, *, announce: bool = False) -> None:
        """Keep the app's status; publish it when its state or URL changed (or `announce`)."""
        previous = self._status.get(name)
        if status.fix and previous is not None and status.fix == previous.fix and status.reason != previous.reason:
            status = _replace(status, fix="")  # a fix belongs to the reason it came with
        if status.running and status.started_at is None:
            kept = previous.started_at if previous is not None and previous.running else None
            status = _replace(status, started_at=kept or time.time())
        self._status[name] = status
        if announce or previous is None or previous.state != status.state or previous.url != status.url:
            self.bus.publish(AppStateChanged(name, status, status.reason))


def broken_status(broken: BrokenApp) -> AppStatus:
    return AppStatus(
        broken.name, broken.name, BROKEN, reason=broken.error.message, fix=broken.error.fix, source=broken.source
    )


def _docker_time(value: str | None) -> float | None:
    """Docker's RFC 3339 time with nanoseconds, as a Unix time; None when absent or unparsable."""
    if not value or value.startswith("0001-"):
        return None
    from datetime import datetime

    head, _, rest = value.rstrip("Z").partition(".")
    fraction = "".join(ch for ch in rest if ch.isdigit())[:6]
    try:
        return datetime.fromisoformat(f"{head[:19]}.{fraction or '0'}+00:00").timestamp()
    except ValueError:
        return None


def _replace(status: AppStatus, **changes: Any) -> AppStatus:
    return dataclasses.replace(status, **changes)


def _settle(future: asyncio.Future, exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)


def _split_image(image: str) -> tuple[str, str]:
    if "@" in image:
        repository, digest = image.split("@", 1)
        return repository, digest
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = image.rsplit(":", 1)
        return repository, tag
    return image, "latest"


__all__ = ["AiuiError", "AppService", "invoking_ids", "merge_json_settings"]
