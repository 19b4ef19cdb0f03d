"""What flows out of a container or the engine while it works: log lines, figures (the cgroup poll or
Docker's stats stream) and an image pull's progress, each read through `iterate_in_thread`."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from aiui_tui.core.apps import NOT_CREATED, PULLING
from aiui_tui.core.events import AppPullProgress
from aiui_tui.core.throttle import Throttle
from aiui_tui.logs import get_logger
from aiui_tui.services.apps.cgroup_files import CgroupFiles, locate
from aiui_tui.services.apps.errors import AppError
from aiui_tui.services.apps.stats import parse_stats
from aiui_tui.services.apps.status_book import StatusBook, replace_status

log = get_logger(__name__)
LAST_LINES = 20


class Streams(StatusBook):
    # -- logs ---------------------------------------------------------------------------------

    async def _last_lines(self, container_id: str, tail: int = LAST_LINES) -> tuple[str, ...]:
        client = self.client
        if client is None:
            return ()
        try:
            raw: bytes = await asyncio.to_thread(lambda: client.containers.get(container_id).logs(tail=tail))
        except Exception:
            return ()
        return tuple(raw.decode("utf-8", "replace").splitlines()[-tail:])

    async def _follow(self, container: Any, tail: int) -> AsyncIterator[str]:
        """Lines as the container writes them, until it stops (or the consumer stops iterating)."""
        from aiui_tui.services.apps.threaded import iterate_in_thread  # here and below: `app list` reads no stream

        stream = await asyncio.to_thread(container.logs, stream=True, follow=True, tail=tail)
        pending = b""
        try:
            async for chunk in iterate_in_thread(stream, name=f"logs {container.name}", close=stream.close):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", "replace")
        except Exception as exc:  # the engine closed the stream: the end of the log
            log.debug("log stream ended", container=container.id[:12], reason=str(exc)[:200])
        if pending:
            yield pending.decode("utf-8", "replace")

    # -- figures ------------------------------------------------------------------------------

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
        from aiui_tui.services.apps.threaded import iterate_in_thread

        files: CgroupFiles | None = None
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
        try:
            samples = await asyncio.to_thread(client.api.stats, container_id, stream=True, decode=True)
            async with contextlib.aclosing(iterate_in_thread(samples, name=f"stats {name}")) as reader:
                async for raw in reader:
                    if stop.is_set() or self._closing.is_set():
                        return  # the thread stops at its next sample
                    if not raw.get("read") or raw.get("read", "").startswith("0001"):
                        continue  # a stopped container's empty sample
                    self.bus.publish(parse_stats(name, container_id, raw, self._gpu_by_container(container_id)))
        except Exception as exc:
            log.debug("stats reader ended", app=name, reason=str(exc)[:200])
        finally:
            self._streams.discard(container_id)

    def _stop_reader(self, container_id: str) -> None:
        stop = self._readers.pop(container_id, None)
        if stop is not None:
            stop.set()
        self.stats_poll.remove(container_id)

    # -- an image pull ------------------------------------------------------------------------

    async def _pull(self, name: str, image: str) -> None:
        """Pull the image, publishing its progress (about 10 a second); an AppError saying why it failed."""
        from aiui_tui.services.apps.pull import PullProgress
        from aiui_tui.services.apps.threaded import iterate_in_thread

        repository, tag = split_image(image)
        self._set(name, replace_status(self._status[name], state=PULLING, reason=f"pulling {image}"))
        progress = PullProgress()
        throttle = Throttle(10)

        def publish(final: bool = False) -> None:
            if throttle.ready(time.monotonic(), force=final):
                self.bus.publish(
                    AppPullProgress(
                        name, image, progress.done, progress.total, progress.layers_done, len(progress.layers),
                        progress.status,
                    )
                )  # fmt: skip

        client = self.client
        try:
            messages = await asyncio.to_thread(client.api.pull, repository, tag=tag, stream=True, decode=True)
            async for message in iterate_in_thread(messages, name=f"pull {image}"):
                progress.feed(message)
                publish()
        except Exception as exc:
            raise self._pull_failed(name, image, str(exc)) from None
        publish(final=True)
        if progress.error:
            raise self._pull_failed(name, image, progress.error)
        log.info("image pulled", app=name, image=image, bytes=progress.done, layers=len(progress.layers))

    def _pull_failed(self, name: str, image: str, raw: str) -> AppError:
        """The card says what happened in a few words and the fix; the engine's words go to the log."""
        from aiui_tui.services.apps.pull_errors import classify, pull_error

        base = self.apps[name].base
        failure = classify(image, raw, base)
        reason = f"pull failed: {failure.what}"
        status = replace_status(self._status[name], state=NOT_CREATED, reason=reason, fix=failure.fix)
        self._set(name, status, announce=True)
        return pull_error(image, raw, base)


def split_image(image: str) -> tuple[str, str]:
    """(repository, tag or digest) of an image reference; the tag "latest" when it names none."""
    if "@" in image:
        repository, digest = image.split("@", 1)
        return repository, digest
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = image.rsplit(":", 1)
        return repository, tag
    return image, "latest"
