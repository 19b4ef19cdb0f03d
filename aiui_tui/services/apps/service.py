"""Apps in Docker containers: start with pull and readiness, stop, logs, streaming stats, and reconnects.

`AppService` is the facade the TUI, the CLI and plugins call. It is cut along its seams, each layer
using only the ones below it:

- `status_book`: the apps, which are enabled, their statuses and the labels that mark our containers;
- `streams`: log lines, container figures and pull progress (`threaded.iterate_in_thread`);
- `engine_link`: connect and reconnect, the engine's events, adopting our containers after a restart;
- `checks`: network, port and listener checks, outputs handed back after a stop;
- `lifecycle`: start, stop, restart, update (one at a time per app);
- this module: starting and closing the service, manifests changed on disk, GPU instances, queries
  that ask the engine or the registry.

Every docker SDK call blocks, so it runs in a thread. Containers carry `aiui.app` and `aiui.root`
labels: the service adopts its own after a restart and never touches anyone else's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiui_tui.core.apps import UNKNOWN, AppStatus
from aiui_tui.core.errors import AiuiError
from aiui_tui.core.events import AppRemoved, AppStateChanged, Notice
from aiui_tui.logs import get_logger
from aiui_tui.paths import invoking_ids
from aiui_tui.services.apps import manifest_watch
from aiui_tui.services.apps.errors import AppError, unknown_app
from aiui_tui.services.apps.host_files import merge_json_settings
from aiui_tui.services.apps.lifecycle import Lifecycle
from aiui_tui.services.apps.manifest import gpu_instance, load_manifests
from aiui_tui.services.apps.spec import ContainerSpec, container_name, effective_image
from aiui_tui.services.apps.status_book import Gpu, broken_status, replace_status

if TYPE_CHECKING:  # imported where used: `app list` neither compares images nor pulls
    from aiui_tui.services.apps import contract

log = get_logger(__name__)


class AppService(Lifecycle):
    manifest_poll_s = manifest_watch.POLL_S  # how often the dashboard looks at config/apps for changes

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
        tasks = [t for t in (self._supervisor, self._watch, *self._probes.values(), *self._background) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.client is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.client.close)

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
                changed = replace_status(status, title=blank.title, image=blank.image, source=blank.source)
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

    # -- GPU instances ------------------------------------------------------------------------

    async def gpus(self) -> list[Gpu]:
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
        started: list[AppStatus] = []
        for result in results:
            if isinstance(result, BaseException):
                raise result
            started.append(result)
        return started

    # -- what the engine and the registry say --------------------------------------------------

    async def describe(self, name: str) -> ContainerSpec:
        """The container the app runs (or would run) as: image, command, environment, mounts, ports."""
        from aiui_tui.services.apps import contract

        manifest = self.manifest(name)
        image_cmd = None
        if manifest.arguments_go_to == "image-command":
            attrs = await self._local_image(effective_image(manifest, self.config, self.apps[name].base))
            image_cmd = contract.image_facts(attrs)["cmd"] if attrs is not None else None
        return await self._spec(manifest, None, image_cmd=image_cmd)

    async def image_contract(self, name: str) -> tuple[str, list[contract.ContractLine] | None]:
        """(image, each contract field against the local image), or None when the image is not pulled."""
        from aiui_tui.services.apps import contract

        manifest = self.manifest(name)
        image = effective_image(manifest, self.config, self.apps[name].base)
        attrs = await self._local_image(image)
        return image, (contract.compare(manifest, attrs) if attrs is not None else None)

    async def check_update(self, name: str) -> tuple[bool, str]:
        """(update available, one line why): the registry's digest for the image's tag against the local image's;
        an AppError when the registry cannot be asked."""
        import docker.errors

        from aiui_tui.services.apps.pull_errors import pull_error

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
        async for line in self._follow(container, tail):
            yield line


__all__ = ["AiuiError", "AppService", "invoking_ids", "merge_json_settings"]
