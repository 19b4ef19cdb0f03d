"""Opening one HTTP response with our redirect rules: tokens stay with their own origin.

Every request asks for the file as it is (`Accept-Encoding: identity`) and a body sent compressed
anyway is refused. Redirects are followed by hand (up to 10), so a signed CDN URL on another host never receives the
Authorization header, and the final URL is known. A redirect to anything but a well-formed http(s)
address (`file:`, `ftp:`, `data:`, port 70000, a broken IPv6 literal) is refused at once: retrying
cannot change the server's answer. Connection failures become `DownloadError`s that say whether
the network or the server is at fault.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urljoin

import aiohttp

from aiui_tui.logs import get_logger
from aiui_tui.services.downloads.auth import SourceToken, auth_headers, same_origin, source_for
from aiui_tui.services.downloads.errors import DownloadError, http_error
from aiui_tui.services.downloads.policy import parse_retry_after
from aiui_tui.services.downloads.urls import url_problem

log = get_logger(__name__)
MAX_REDIRECTS = 10
_OFFLINE_ERRNOS = {101, 113, -2, -3, -5}  # ENETUNREACH, EHOSTUNREACH, EAI_NONAME, EAI_AGAIN, EAI_NODATA


def connection_error(url: str, exc: BaseException) -> DownloadError:
    if isinstance(exc, asyncio.TimeoutError):
        return DownloadError(f"Timed out talking to {url}.", "it will be retried", retryable=True)
    os_error = getattr(exc, "os_error", None)
    errno = getattr(os_error, "errno", None)
    offline = isinstance(exc, aiohttp.ClientConnectorDNSError) if hasattr(aiohttp, "ClientConnectorDNSError") else False
    offline = offline or errno in _OFFLINE_ERRNOS
    if offline:
        return DownloadError(
            f"No network: cannot reach {url} ({exc}).",
            "downloads wait and resume when the network returns",
            retryable=True,
            offline=True,
            url=url,
        )
    return DownloadError(
        f"Connection to {url} failed: {exc or type(exc).__name__}.", "it will be retried", retryable=True
    )


@contextlib.asynccontextmanager
async def open_response(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    tokens: list[SourceToken],
    proxy: str | None = None,
) -> AsyncIterator[aiohttp.ClientResponse]:
    """GET `url` following redirects by hand; yields the final response, whatever its status.

    `headers` must not carry Authorization: it is added per hop for the token's own origin only.
    """
    problem = url_problem(url)
    if problem is not None:
        raise DownloadError(f"Cannot download {url!r}: {problem}.", "give the full http(s) URL of the file")
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        hop_headers = {**headers, "Accept-Encoding": "identity"}  # aiohttp would ask for gzip and br
        if same_origin(current, url):  # never to another scheme, host or port after a redirect
            hop_headers.update(auth_headers(current, tokens))
        try:
            response = await session.get(current, headers=hop_headers, allow_redirects=False, proxy=proxy)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise connection_error(current, exc) from exc
        if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
            location = response.headers["Location"]
            response.release()
            target = _redirect_target(current, location)
            log.debug("redirect", to_other_origin=not same_origin(current, target))
            current = target
            continue
        try:
            _refuse_encoded(response, current)
            yield response
        finally:
            response.release()
        return
    raise DownloadError(f"Too many redirects from {url}.", "check the URL")


def _refuse_encoded(response: aiohttp.ClientResponse, url: str) -> None:
    """A body sent compressed though we asked for none: its bytes are not the file's, and offsets
    into it mean nothing for a resume. Refused before a byte is written."""
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if response.status < 300 and encoding not in ("", "identity"):
        raise DownloadError(
            f"The server sent the file compressed (Content-Encoding: {encoding[:40]}) though asked not to: {url}.",
            "the server or a proxy in between is misconfigured; try another mirror or download it in a browser",
        )


def _redirect_target(current: str, location: str) -> str:
    try:
        target = urljoin(current, location)
    except ValueError:
        target = location
    problem = url_problem(target)
    if problem is not None:
        shown = location if len(location) <= 200 else location[:200] + "…"
        raise DownloadError(
            f"The server redirected to {shown!r}, which is not downloaded: {problem}.",
            "check the URL; the site may need a browser or a token to give a real download link",
        )
    return target


def raise_for_status(response: aiohttp.ClientResponse, url: str, tokens: list[SourceToken]) -> None:
    if response.status < 400:
        return
    source = source_for(url, tokens)
    sent = "Authorization" in response.request_info.headers
    raise http_error(response.status, url, source, sent, parse_retry_after(response.headers.get("Retry-After")))
