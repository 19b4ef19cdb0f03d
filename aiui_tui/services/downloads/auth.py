"""Which token goes to which host, and when credentials must be dropped on a redirect.

A token is attached only when the request's origin is its source's own (HuggingFace base URL,
which follows HF_ENDPOINT; CivitAI's configurable base URL) and never follows a redirect to
another scheme, host or port (curl CVE-2018-1000007, requests CVE-2018-18074).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from aiui_tui.config import Sources
from aiui_tui.credentials import Credentials
from aiui_tui.logs import register_secret


def origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


@dataclass(frozen=True)
class SourceToken:
    source: str  # "huggingface" or "civitai"
    origin: tuple[str, str, int]
    token: str | None
    setting: str  # how the user provides it


def source_tokens(sources: Sources, credentials: Credentials) -> list[SourceToken]:
    hf = credentials.huggingface_token.get_secret_value() if credentials.huggingface_token else None
    civitai = credentials.civitai_api_token.get_secret_value() if credentials.civitai_api_token else None
    for token in (hf, civitai):
        if token:
            register_secret(token)
    return [
        SourceToken(
            "huggingface",
            origin(sources.huggingface_url),
            hf,
            "aiui-tui config set-secret huggingface_token (or HF_TOKEN)",
        ),
        SourceToken(
            "civitai",
            origin(sources.civitai_url),
            civitai,
            "aiui-tui config set-secret civitai_api_token (or CIVITAI_API_TOKEN)",
        ),
    ]


def source_for(url: str, tokens: list[SourceToken]) -> SourceToken | None:
    o = origin(url)
    return next((t for t in tokens if t.origin == o), None)


def auth_headers(url: str, tokens: list[SourceToken]) -> dict[str, str]:
    source = source_for(url, tokens)
    if source and source.token:
        return {"Authorization": f"Bearer {source.token}"}
    return {}


def same_origin(a: str, b: str) -> bool:
    return origin(a) == origin(b)
