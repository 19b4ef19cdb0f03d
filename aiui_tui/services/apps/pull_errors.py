"""What went wrong when asking a registry for an image, said in one whole line with its fix.

The engine answers a failed pull with its own words ("500 Server Error for http+docker://...
(Get "https://registry/v2/": dial tcp: lookup registry: no such host)"): the user needs to know
whether the network, the name or a login is at fault. The raw text goes to the log, never on screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiui_tui.logs import get_logger
from aiui_tui.services.apps.errors import AppError

log = get_logger(__name__)

# Reasons a registry cannot be reached, as the engine (Go's net package) words them.
_UNREACHABLE = {
    "connection refused": "connection refused",
    "no such host": "its name does not resolve",
    "temporary failure in name resolution": "its name does not resolve",
    "server misbehaving": "its name does not resolve",
    "network is unreachable": "no network",
    "no route to host": "no route to it",
    "i/o timeout": "timed out",
    "tls handshake timeout": "timed out",
    "context deadline exceeded": "timed out",
    "client.timeout exceeded": "timed out",
    "connection reset": "the connection was reset",
    "dial tcp": "no connection",
}


# A registry asking for credentials (distribution's UNAUTHORIZED and DENIED, the engine's own words).
_LOGIN = ("unauthorized", "authentication required", "no basic auth credentials", "requested access", "access denied")


@dataclass(frozen=True)
class PullFailure:
    what: str  # a short phrase for a card: "no such image on 127.0.0.1:5000"
    fix: str


def registry_of(image: str) -> str:
    """The registry an image reference names (Docker Hub when the first part is no host)."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def classify(image: str, raw: str, app: str | None = None) -> PullFailure:
    text = raw.lower()
    registry = registry_of(image)
    override = f"apps.overrides.{app}.image" if app else "apps.overrides.NAME.image"
    if "toomanyrequests" in text or "rate limit" in text:
        return PullFailure(f"{registry} refused: its pull rate limit is reached", "wait a few hours, or `docker login`")
    if "no space left on device" in text:
        return PullFailure("the Docker engine's disk is full", "free space (docker system prune), then retry")
    if "server gave http response to https client" in text:
        return PullFailure(
            f"{registry} speaks plain HTTP, which the engine refuses",
            f'add "{registry}" to insecure-registries in /etc/docker/daemon.json, or use its HTTPS address',
        )
    if "pull access denied" in text or "repository does not exist" in text:
        return PullFailure(
            f"no such image on {registry}, or it is private",
            f"check the name ({override}); for a private image run `docker login {registry}`",
        )
    if any(word in text for word in _LOGIN):
        return PullFailure(f"{registry} needs a login", f"run `docker login {registry}` (as the engine's user), retry")
    if any(word in text for word in ("manifest unknown", "name unknown", "not found", "no such image")):
        return PullFailure(
            f"no such image on {registry}", f"check the image's name and tag ({override} in config/aiui.toml)"
        )
    for needle, why in _UNREACHABLE.items():
        if needle in text:
            return PullFailure(
                f"cannot reach {registry} ({why})",
                "check the network (and the engine's proxy settings), then retry",
            )
    return PullFailure(
        "the engine refused (its words are in logs/aiui.log)", f"`docker pull {image}` shows the engine's full answer"
    )


def pull_error(image: str, raw: str, app: str | None = None, *, failed: str = "") -> AppError:
    """One line for the user (`failed` names what failed: "Could not pull IMAGE" by default);
    the engine's raw answer goes to the log."""
    failure = classify(image, raw, app)
    log.warning("registry request failed", app=app, image=image, error=raw[:2000])
    return AppError(f"{failed or f'Could not pull {image}'}: {failure.what}.", failure.fix)
