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
    """`answers` for one probe with the standard library (blocking: run it in a thread)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout_s)
    try:
        conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        return conn.getresponse().status < 500
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


async def answers_within(url: str, timeout_s: float, wanted: Callable[[], bool], every_s: float = 0.5) -> bool:
    """Probe `url` until it answers (True), the time runs out or `wanted()` turns false (False)."""
    deadline = time.monotonic() + timeout_s
    async with probe_session() as session:
        while wanted() and time.monotonic() < deadline:
            if await answers(session, url):
                return True
            await asyncio.sleep(every_s)
    return False
