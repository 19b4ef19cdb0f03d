"""Is the network there? A cheap TCP probe, and waiting for it to come back.

Offline is normal for these users (a laptop on a train, a box whose uplink drops). Queued items
then wait, probing with growing pauses, instead of failing one after another.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from aiui_tui.logs import get_logger

log = get_logger(__name__)
PROBE_TIMEOUT_S = 3.0
MAX_PAUSE_S = 30.0


def probe_address(url: str, proxy: str | None = None) -> tuple[str, int]:
    parts = urlsplit(proxy or url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname or "", port


async def reachable(url: str, proxy: str | None = None, timeout: float = PROBE_TIMEOUT_S, resolver: Any = None) -> bool:
    """Whether `url`'s host (or the proxy) takes a TCP connection; names resolved by `resolver` (an
    aiohttp resolver, the one the downloads use) when given, else by the system."""
    host, port = probe_address(url, proxy)
    try:
        if resolver is not None:
            addresses = await asyncio.wait_for(resolver.resolve(host, port), timeout)
            host = addresses[0]["host"]
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, asyncio.TimeoutError, IndexError, KeyError):
        return False
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return True


async def wait_until_reachable(
    url: str, proxy: str | None = None, first_pause: float = 1.0, resolver: Any = None
) -> bool:
    """Return once `url`'s host (or the proxy) takes a connection; True when that meant waiting."""
    pause = first_pause
    waited = False
    while not await reachable(url, proxy, resolver=resolver):
        log.info("waiting for the network", host=probe_address(url, proxy)[0], next_probe_s=pause)
        await asyncio.sleep(pause)
        pause = min(MAX_PAUSE_S, pause * 2)
        waited = True
    return waited
