"""Connecting to the Docker engine, and turning connection failures into one line with a fix.

The engine is `docker.host` from the config, else `DOCKER_HOST` (with DOCKER_TLS_VERIFY and
DOCKER_CERT_PATH), else the local socket. Every call here blocks: run it in a thread.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiui_tui.core.errors import AiuiError, EngineUnavailable

if TYPE_CHECKING:
    from docker import DockerClient  # no stubs: Any to the type checker

    from aiui_tui.config import Docker as DockerSettings

MIN_ENGINE_VERSION = (20, 10)


def engine_address(settings: DockerSettings, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return settings.host or env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(
    settings: DockerSettings, env: Mapping[str, str] | None = None, timeout: float | None = None
) -> DockerClient:
    """A connected `docker.DockerClient`, or EngineUnavailable naming the address and the fix."""
    import docker  # ~0.2 s with requests and urllib3: imported by the commands that need it

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
    errors = sys.modules.get("docker.errors")  # not imported: no docker SDK call was made, so none of its errors
    if errors is None:
        return engine_problem(address, exc) if isinstance(exc, (ReadOnlyEngine.Error, ConnectionError)) else None
    if isinstance(exc, errors.NotFound):
        return AiuiError(
            f"Docker no longer knows what was asked for: {_short(_explanation(exc))}.",
            "someone removed it meanwhile; run the command again (aiui-tui app status shows the state)",
        )
    if isinstance(exc, errors.APIError):
        return AiuiError(
            f"The Docker engine at {address} refused: {_short(_explanation(exc))}.", "see logs/aiui.log, then retry"
        )
    if isinstance(exc, (errors.DockerException, ReadOnlyEngine.Error, ConnectionError)):
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


def has_nvidia_runtime(info: Mapping[str, Any]) -> bool:
    """The NVIDIA Container Toolkit is registered as a runtime or through CDI specs."""
    if "nvidia" in (info.get("Runtimes") or {}):
        return True
    devices = info.get("DiscoveredDevices") or []
    return any("nvidia.com/gpu" in str(d.get("ID", "")) for d in devices if isinstance(d, Mapping))


class _Containers:
    def __init__(self, engine: ReadOnlyEngine) -> None:
        self._engine = engine

    def list(self, *, all: bool = False, filters: Mapping[str, Any] | None = None) -> list[_Container]:
        query = "all=1" if all else "all=0"
        if filters:
            wanted = {k: v if isinstance(v, list) else [v] for k, v in filters.items()}
            query += "&filters=" + quote(json.dumps(wanted))
        found = self._engine.get(f"/containers/json?{query}")
        # Inspected one by one, as the SDK does: the list's fields are not the inspection's.
        return [_Container(self._engine.get(f"/containers/{quote(c['Id'])}/json")) for c in found]


class _Container:
    """The fields of `docker.models.containers.Container` that listing reads."""

    def __init__(self, attrs: dict[str, Any]) -> None:
        self.attrs = attrs
        self.id: str = attrs["Id"]

    @property
    def name(self) -> str:
        return str(self.attrs.get("Name", "")).lstrip("/")

    @property
    def labels(self) -> dict[str, str]:
        return (self.attrs.get("Config") or {}).get("Labels") or {}

    @property
    def status(self) -> str:
        return str((self.attrs.get("State") or {}).get("Status", ""))


class ReadOnlyEngine:
    """The few reads a listing needs (ping, info, containers.list), over the local socket with the
    standard library: no docker SDK (requests, urllib3: ~0.2 s to import), one request each."""

    class Error(ConnectionError):
        pass

    def __init__(self, socket_path: str, timeout: float) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self.containers = _Containers(self)

    def get(self, path: str) -> Any:
        """The JSON the engine answers (its documents are untyped: read with care)."""
        body = self._body(path)
        try:
            return json.loads(body) if body else body
        except ValueError as exc:  # something else listens on the engine's socket
            raise ReadOnlyEngine.Error(f"the answer to {path} is not JSON ({exc})") from exc

    def _body(self, path: str) -> bytes:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
            status, body = http_get(sock, path, "docker")
        except (OSError, ValueError) as exc:
            raise ReadOnlyEngine.Error(f"{type(exc).__name__}: {exc}") from exc
        finally:
            sock.close()
        if status >= 400:
            raise ReadOnlyEngine.Error(f"{status} {body[:200].decode('utf-8', 'replace')}")
        return body

    def ping(self) -> bool:
        return self._body("/_ping") == b"OK"

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = self.get("/info")
        return info

    def close(self) -> None:
        pass


MAX_HEAD = 64 * 1024


def http_get(sock: socket.socket, path: str, host: str, *, status_only: bool = False) -> tuple[int, bytes]:
    """One HTTP/1.1 GET on a connected socket (the engine's, a UI's port): the status and the body
    (chunked or sized; empty with `status_only`, which reads no further than the status line's
    headers). The standard library's http.client (and the email parser it brings) cost ~15-20 ms of
    `app list`'s start for these few requests. A malformed answer is a ValueError; the socket's
    errors (refused, timed out) are raised as they are. Blocking."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode("latin-1"))
    raw = b""
    while b"\r\n\r\n" not in raw:
        if len(raw) > MAX_HEAD:  # not an HTTP server's answer (something else on a UI's port)
            raise ValueError(f"no end of the headers in the answer's first {MAX_HEAD} bytes")
        data = sock.recv(65536)
        if not data:
            raise ValueError("the answer ended before its headers")
        raw += data
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    words = lines[0].split(None, 2)
    if len(words) < 2 or not words[0].startswith(b"HTTP/") or not words[1].isdigit():
        raise ValueError(f"not an HTTP answer: {lines[0][:80]!r}")
    status = int(words[1])
    if status_only:
        return status, b""
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    chunked = b"chunked" in headers.get(b"transfer-encoding", b"")
    size = None if chunked or b"content-length" not in headers else int(headers[b"content-length"])
    while size is None or len(body) < size:
        if chunked and body.endswith(b"0\r\n\r\n") and _dechunk(body) is not None:
            break
        data = sock.recv(65536)
        if not data:
            break
        body += data
    if chunked:
        whole = _dechunk(body)
        if whole is None:
            raise ValueError("the answer ended inside a chunk")
        return status, whole
    if size is not None and len(body) < size:
        raise ValueError(f"the answer ended after {len(body)} of {size} bytes")
    return status, body if size is None else body[:size]


def _dechunk(data: bytes) -> bytes | None:
    """The body of a chunked transfer, or None when `data` does not hold all of it yet."""
    parts: list[bytes] = []
    pos = 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            return None
        size = int(data[pos:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(parts)
        start = end + 2
        if start + size + 2 > len(data):
            return None
        parts.append(data[start : start + size])
        pos = start + size + 2


def connect_read_only(settings: DockerSettings, env: Mapping[str, str] | None = None) -> ReadOnlyEngine | DockerClient:
    """For commands that only look (`app list`, `app status`): a `ReadOnlyEngine` on a local socket,
    else (tcp://, ssh://, TLS) the docker SDK's client as `connect` gives it."""
    env = os.environ if env is None else env
    address = engine_address(settings, env)
    if not address.startswith("unix://"):
        return connect(settings, env)
    client = ReadOnlyEngine(address.removeprefix("unix://"), settings.timeout_s)
    try:
        client.ping()
    except Exception as exc:
        raise engine_problem(address, exc) from exc
    return client


__all__ = [
    "ReadOnlyEngine",
    "connect",
    "connect_read_only",
    "engine_address",
    "engine_problem",
    "engine_refusal",
    "has_nvidia_runtime",
    "http_get",
    "version_tuple",
]
