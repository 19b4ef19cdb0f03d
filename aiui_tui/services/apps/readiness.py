"""Is an app's UI answering? Its URL as the container publishes it, and HTTP probes of it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiui_tui.services.apps.manifest import AppManifest

if TYPE_CHECKING:
    import aiohttp


def container_url(manifest: AppManifest, container: Any, bind: str) -> str:
    """Where users open the UI: the host port Docker published (or the port on the host network)."""
    host = "127.0.0.1" if bind in ("0.0.0.0", "::") else bind
    if manifest.network == "host":
        return f"http://{host}:{manifest.port}/"
    bindings = ((container.attrs.get("HostConfig") or {}).get("PortBindings") or {}).get(f"{manifest.port}/tcp")
    port = int(bindings[0]["HostPort"]) if bindings and bindings[0].get("HostPort") else manifest.published_port
    host_ip = bindings[0].get("HostIp") if bindings else None
    if host_ip and host_ip not in ("0.0.0.0", "::"):
        host = host_ip
    return f"http://{host}:{port}/"


def probe_session() -> aiohttp.ClientSession:
    import aiohttp

    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))


async def answers(session: aiohttp.ClientSession, url: str) -> bool:
    """The UI answers when a GET returns anything below 500."""
    import aiohttp

    try:
        async with session.get(url, allow_redirects=False) as response:
            status: int = response.status
            return status < 500
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
        return False


def answers_once(url: str, timeout_s: float = 2.0) -> bool:
    """`answers` for one probe without aiohttp (its import is ~0.2 s of `app list`), reading the status
    line only (blocking: run it in a thread)."""
    import socket
    from urllib.parse import urlsplit

    from aiui_tui.services.engine import http_get

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    shown = f"[{host}]" if ":" in host else host
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            status, _body = http_get(sock, path, f"{shown}:{port}", status_only=True)
    except (OSError, ValueError):
        return False
    return status < 500


async def answers_within(url: str, timeout_s: float, wanted: Callable[[], bool], every_s: float = 0.5) -> bool:
    """Probe `url` until it answers (True), the time runs out or `wanted()` turns false (False)."""
    deadline = time.monotonic() + timeout_s
    async with probe_session() as session:
        while wanted() and time.monotonic() < deadline:
            if await answers(session, url):
                return True
            await asyncio.sleep(every_s)
    return False
