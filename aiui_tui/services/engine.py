"""Connecting to the Docker engine, and turning connection failures into one line with a fix.

The engine is `docker.host` from the config, else `DOCKER_HOST` (with DOCKER_TLS_VERIFY and
DOCKER_CERT_PATH), else the local socket. Every call here blocks: run it in a thread.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import docker
import docker.errors

from aiui_tui.config import Docker as DockerSettings
from aiui_tui.core.errors import AiuiError, EngineUnavailable

MIN_ENGINE_VERSION = (20, 10)


def engine_address(settings: DockerSettings, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return settings.host or env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(settings: DockerSettings, env: Mapping[str, str] | None = None, timeout: float | None = None):
    """A connected `docker.DockerClient`, or EngineUnavailable naming the address and the fix."""
    env = os.environ if env is None else env
    address = engine_address(settings, env)
    timeout = timeout or settings.timeout_s
    try:
        if settings.host:
            client = docker.DockerClient(base_url=settings.host, timeout=timeout, use_ssh_client=False)
        else:
            client = docker.from_env(timeout=timeout, environment=dict(env))
        client.ping()
        return client
    except Exception as exc:
        raise engine_problem(address, exc) from exc


def engine_problem(address: str, exc: BaseException) -> EngineUnavailable:
    text = str(exc)
    if "Permission denied" in text or "PermissionError" in text:
        return EngineUnavailable(
            f"Docker engine not reachable at {address}: permission denied.",
            "add yourself to the docker group (sudo usermod -aG docker $USER), then log in again",
        )
    if address.startswith("ssh://"):
        return EngineUnavailable(
            f"Docker engine not reachable at {address}: {_short(text)}.",
            f"check that `ssh {address[6:]} docker version` works without a password prompt",
        )
    if address.startswith(("tcp://", "http")):
        return EngineUnavailable(
            f"Docker engine not reachable at {address}: {_short(text)}.",
            "check the address, the engine's TLS settings (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH) and the firewall",
        )
    return EngineUnavailable(
        f"Docker engine not reachable at {address}: {_short(text)}.",
        "start it (sudo systemctl start docker), or set docker.host in config/aiui.toml or DOCKER_HOST",
    )


def engine_refusal(exc: BaseException, address: str) -> AiuiError | None:
    """An answer of the engine that no intent turned into its own error (a container removed
    meanwhile, a conflict, a lost connection), as one line; None when it is no Docker error."""
    if isinstance(exc, docker.errors.NotFound):
        return AiuiError(
            f"Docker no longer knows what was asked for: {_short(_explanation(exc))}.",
            "someone removed it meanwhile; run the command again (aiui-tui app status shows the state)",
        )
    if isinstance(exc, docker.errors.APIError):
        return AiuiError(
            f"The Docker engine at {address} refused: {_short(_explanation(exc))}.", "see logs/aiui.log, then retry"
        )
    if isinstance(exc, (docker.errors.DockerException, ConnectionError)):
        return engine_problem(address, exc)
    return None


def _explanation(exc: BaseException) -> str:
    return str(getattr(exc, "explanation", None) or exc)


def _short(text: str) -> str:
    if "No such file or directory" in text or "FileNotFoundError" in text:
        return "no engine listens there"
    if "Connection refused" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    return text.splitlines()[0][:160] if text else "unknown error"


def version_tuple(version: str) -> tuple[int, int]:
    """`20.10.24+dfsg1` -> (20, 10); unparseable versions compare as (0, 0)."""
    parts = version.split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
    except (IndexError, ValueError):
        return (0, 0)


def has_nvidia_runtime(info: Mapping) -> bool:
    """The NVIDIA Container Toolkit is registered as a runtime or through CDI specs."""
    if "nvidia" in (info.get("Runtimes") or {}):
        return True
    devices = info.get("DiscoveredDevices") or []
    return any("nvidia.com/gpu" in str(d.get("ID", "")) for d in devices if isinstance(d, Mapping))


__all__ = [
    "connect",
    "docker",
    "engine_address",
    "engine_problem",
    "engine_refusal",
    "has_nvidia_runtime",
    "version_tuple",
]
