"""Start, stop, restart and update an app: one at a time per app (an `asyncio.Lock` each), pulling
the image when needed, recreating the container, waiting until the UI answers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiui_tui.core.apps import EXITED, NOT_CREATED, READY, STARTING, STOPPED, STOPPING, AppStatus
from aiui_tui.core.events import Notice
from aiui_tui.logs import get_logger
from aiui_tui.paths import invoking_ids
from aiui_tui.services.apps import readiness
from aiui_tui.services.apps.checks import Checks
from aiui_tui.services.apps.engine_link import PROBE_EVERY_S
from aiui_tui.services.apps.errors import AppError
from aiui_tui.services.apps.host_files import make_dirs, merge_json_settings, write_file
from aiui_tui.services.apps.manifest import AppManifest
from aiui_tui.services.apps.spec import LABEL_ROOT, ContainerSpec, build_spec, resolve_profile
from aiui_tui.services.apps.status_book import replace_status

log = get_logger(__name__)
CONFLICT = 409  # the engine's answer when a container of that name is being created or removed meanwhile


class Lifecycle(Checks):
    def _lock(self, name: str) -> asyncio.Lock:
        """The app's lock: a start, restart or update of one app waits for the one in progress."""
        return self._locks.setdefault(name, asyncio.Lock())

    async def start_app(self, name: str, profile: str | None = None) -> AppStatus:
        """Pull when needed, create, start, wait until the UI answers; the ready status with its URL.
        A start while another start of the app is in progress waits for it and returns its ready
        status (one container, not two); if that one failed, this one tries again."""
        self.manifest(name)
        lock = self._lock(name)
        joined = lock.locked()
        async with lock:
            status = self._status[name]
            if joined and status.state == READY and profile in (None, status.profile):
                return status
            return await self._start(name, profile)

    async def stop_app(self, name: str, timeout: int = 20) -> AppStatus:
        """Stop the app's container (it is kept, with its logs); a stop never waits for a start in progress."""
        manifest = self.manifest(name)
        client = await self._client()
        container = await self._container(client, name)
        if container is None:
            return self._status[name]
        self._stopping.add(name)
        self._set(name, replace_status(self._status[name], state=STOPPING))
        await asyncio.to_thread(container.stop, timeout=timeout)
        self._stop_reader(container.id)
        status = replace_status(self._status[name], state=STOPPED, url=None, reason="")
        self._set(name, status)
        if not manifest.run_as_user:
            await self._hand_back_outputs(manifest)
        return status

    async def restart_app(self, name: str, profile: str | None = None) -> AppStatus:
        self.manifest(name)
        async with self._lock(name):
            await self.stop_app(name)
            return await self._start(name, profile)

    async def update_app(self, name: str) -> AppStatus:
        """Pull the image again; a running app is recreated on the new image."""
        manifest = self.manifest(name)
        async with self._lock(name):
            spec = await self._spec(manifest, None)
            before = self._status[name]
            try:
                await self._client()
                await self._pull(name, spec.image)
            except AppError:
                self._set(name, before)  # the old image still runs; the failure is raised to the caller
                raise
            if before.running:
                await self.stop_app(name)
                return await self._start(name, None)
            self._set(name, replace_status(before, reason="image updated"))
            return self._status[name]

    async def _start(self, name: str, profile: str | None) -> AppStatus:
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
        from aiui_tui.services.apps import contract  # here: `app list` compares no image

        try:
            contract.check(manifest, spec.image, attrs)
        except AppError as exc:
            self._set(name, replace_status(self._status[name], state=NOT_CREATED, reason=exc.message))
            raise
        if manifest.arguments_go_to == "image-command":  # the arguments follow the image's own CMD
            spec = await self._spec(manifest, profile, image_cmd=contract.image_facts(attrs)["cmd"])
        await self._check_port_free(manifest)
        self._stopping.discard(name)
        container = await asyncio.to_thread(self._recreate, client, spec)
        starting = self._blank(manifest, STARTING, container.id)
        self._set(name, replace_status(starting, profile=spec.profile, gpu=spec.gpu))
        try:
            await asyncio.to_thread(container.start)
        except Exception as exc:
            raise start_error(manifest, exc) from None
        self._start_reader(name, container.id)
        url = await self._wait_ready(manifest, container, spec)
        await self._check_listeners(manifest, container)
        status = replace_status(self._status[name], state=READY, url=url, reason="")
        self._set(name, status)
        log.info("app ready", app=name, url=url, profile=spec.profile, gpu=spec.gpu)
        return status

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

    async def _local_image(self, image: str) -> dict[str, Any] | None:
        """The image's inspect attributes, or None when the engine does not have it."""
        import docker.errors

        client = await self._client()
        try:
            found = await asyncio.to_thread(client.images.get, image)
        except docker.errors.ImageNotFound:
            return None
        attrs: dict[str, Any] = found.attrs
        return attrs

    async def _ensure_image(self, name: str, image: str) -> dict[str, Any]:
        """The image's inspect attributes, pulling it first when it is not here."""
        attrs = await self._local_image(image)
        if attrs is None:
            await self._pull(name, image)
            attrs = await self._local_image(image)
        if attrs is None:
            raise AppError(f"{image} is not on the engine after its pull.", f"try `docker pull {image}`")
        return attrs

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
        try:
            return client.containers.create(**spec.create_kwargs())
        except docker.errors.APIError as exc:
            if exc.status_code == CONFLICT:  # another process created it between our look and our create
                raise AppError(
                    f"{spec.name} is already starting (another aiui-tui or docker created it just now).",
                    "wait for that start to finish, then look again with aiui-tui app status",
                ) from None
            raise

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
                        exited = replace_status(self._status[manifest.name], state=EXITED, exit_code=code)
                        self._set(manifest.name, replace_status(exited, last_lines=lines))
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


def start_error(manifest: AppManifest, exc: Exception) -> AppError:
    """Why the engine did not start the container. Its error class and status code first; the engine
    answers both a missing GPU runtime and a taken port with HTTP 500, so for those two its
    explanation is all there is to tell them apart."""
    import docker.errors

    server = isinstance(exc, docker.errors.APIError) and exc.is_server_error()
    text = str((exc.explanation if isinstance(exc, docker.errors.APIError) else None) or exc)
    if server and "could not select device driver" in text:
        return AppError(
            f"{manifest.display_title}: Docker cannot give the container a GPU (no NVIDIA runtime).",
            "install the NVIDIA Container Toolkit and restart Docker, or use --profile cpu",
        )
    if server and ("address already in use" in text or "port is already allocated" in text):
        return AppError(
            f"{manifest.display_title}: port {manifest.published_port} is already in use.",
            f"stop what uses it, or set apps.overrides.{manifest.name}.host_port in config/aiui.toml",
        )
    return AppError(f"{manifest.display_title} did not start: {text.splitlines()[0][:200]}", "see logs/aiui.log")
