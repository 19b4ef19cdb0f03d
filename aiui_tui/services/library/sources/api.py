"""JSON over HTTP for the model sites: tokens for their own origin only, 429 honoured, errors typed.

Offline is a state, not a crash: `SourceOffline` lets the browser say "offline" and keep showing
the catalog. Auth failures name the setting that supplies the token.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from aiui_tui.core.errors import AiuiError
from aiui_tui.services.downloads.auth import SourceToken, auth_headers, source_for
from aiui_tui.services.downloads.policy import parse_retry_after

RATE_LIMIT_RETRIES = 2
MAX_RETRY_WAIT_S = 10.0
TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10)


class SourceError(AiuiError):
    def __init__(self, source: str, message: str, fix: str = "", *, status: int | None = None) -> None:
        super().__init__(message, fix)
        self.source = source
        self.status = status


class SourceOffline(SourceError):
    pass


class SourceAuthError(SourceError):
    pass


class SourceRateLimited(SourceError):
    pass


class JsonApi:
    """GET JSON from one site; `name` is its display name ("HuggingFace", "CivitAI")."""

    def __init__(
        self, name: str, base_url: str, tokens: list[SourceToken], session: aiohttp.ClientSession | None = None
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self._session = session
        self._own_session = session is None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT, headers={"User-Agent": "aiui-tui"})
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def get(self, path_or_url: str, params: dict[str, Any] | None = None) -> tuple[Any, aiohttp.ClientResponse]:
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else self.base_url + path_or_url
        headers = auth_headers(url, self.tokens)
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            try:
                async with self.session.get(url, params=params, headers=headers, allow_redirects=False) as response:
                    if response.status == 429 and attempt < RATE_LIMIT_RETRIES:
                        wait = parse_retry_after(response.headers.get("Retry-After"))
                        wait = 1.0 if wait is None else wait
                        if wait <= MAX_RETRY_WAIT_S:
                            await asyncio.sleep(wait)
                            continue
                    self._raise_for_status(response, url)
                    try:
                        data = await response.json(content_type=None)
                    except ValueError:
                        raise SourceError(
                            self.name,
                            f"{self.name} answered {url} with something that is not JSON.",
                            "check sources.* base URLs in config/aiui.toml (a mirror or a captive portal?)",
                        ) from None
                    return data, response
            except aiohttp.ClientConnectorError as exc:
                raise SourceOffline(
                    self.name,
                    f"{self.name} is not reachable ({exc.os_error.strerror or exc}).",
                    "check the network or sources.* in config/aiui.toml; the catalog works offline",
                ) from None
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, asyncio.TimeoutError) as exc:
                raise SourceOffline(
                    self.name,
                    f"{self.name} did not answer ({type(exc).__name__}).",
                    "try again; check the network",
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _raise_for_status(self, response: aiohttp.ClientResponse, url: str) -> None:
        status = response.status
        if status < 300:
            return
        if status in (401, 403):
            token = source_for(url, self.tokens)
            if token and token.token:
                fix = f"the token was refused: check it, or accept the model's license on {self.name}"
            else:
                fix = f"set a token: {token.setting}" if token else "this mirror needs credentials"
            raise SourceAuthError(self.name, f"{self.name} refused access ({status}).", fix, status=status)
        if status == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            when = f"in {wait:.0f} s" if wait else "later"
            raise SourceRateLimited(
                self.name, f"{self.name} is rate limiting requests (429).", f"try again {when}", status=429
            )
        if status == 404:
            raise SourceError(self.name, f"{self.name} has nothing at {url} (404).", "check the name or id", status=404)
        raise SourceError(self.name, f"{self.name} answered {status} for {url}.", "try again later", status=status)


def next_link(response: aiohttp.ClientResponse) -> str | None:
    """The `rel="next"` URL of a Link header (HuggingFace paging)."""
    link = response.links.get("next")
    return str(link["url"]) if link else None
