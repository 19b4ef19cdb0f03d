"""Checks around a start and a stop: the engine has the network the app needs, its host port is free,
it listens only where `network.bind_address` allows; after a stop, root-owned outputs go back to you."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

from aiui_tui.core.apps import STOPPED
from aiui_tui.core.events import Notice
from aiui_tui.logs import get_logger
from aiui_tui.paths import invoking_ids
from aiui_tui.services.apps import listeners, network
from aiui_tui.services.apps.engine_link import EngineLink
from aiui_tui.services.apps.errors import AppError
from aiui_tui.services.apps.host_files import chown_tree
from aiui_tui.services.apps.manifest import AppManifest
from aiui_tui.services.apps.spec import LABEL_ROOT, effective_image
from aiui_tui.services.apps.status_book import replace_status

log = get_logger(__name__)


class Checks(EngineLink):
    async def _check_network(self, name: str, manifest: AppManifest, client: Any) -> None:
        """A bridge-mode app on an engine without a bridge network would run unreachable until its
        readiness timeout: refuse it at once, with the fix."""
        if manifest.network != "bridge" or await asyncio.to_thread(network.has_default_bridge, client):
            return
        error = network.no_bridge_error(manifest.display_title, self.apps[name].base)
        status = replace_status(self._status[name], reason="no bridge network in Docker", fix=error.fix)
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
            status = replace_status(self._status[manifest.name], reason=f"port {manifest.port} in use")
            self._set(manifest.name, status)
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
        status = replace_status(self._status[manifest.name], state=STOPPED, url=None, reason="exposed")
        self._set(manifest.name, status)
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
                    return bytes(output).decode("utf-8", "replace")
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
