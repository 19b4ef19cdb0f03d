"""Shared fixtures: data roots in temp dirs, the real Docker engine, an offline busybox image.

Tests marked `docker` skip with a reason when no engine answers, except under CI=true, where
they fail: CI always has an engine (scripts/test starts one).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from aiui_tui.config import load_config, write_default_config
from aiui_tui.credentials import load_credentials
from aiui_tui.paths import Layout, ensure_layout

REPO = Path(__file__).resolve().parent.parent
BUSYBOX_IMAGE = "aiui-test/busybox:1"
BUSYBOX_APPLETS = ("sh", "httpd", "echo", "sleep", "cat", "ls", "id", "touch", "mkdir", "wget", "true", "false", "env")


@cache
def engine_error() -> str | None:
    """Why no Docker engine answers, or None when one does."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
        client.close()
        return None
    except Exception as exc:  # the reason goes into the skip message
        return f"{type(exc).__name__}: {exc}"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("docker") is None:
        return
    error = engine_error()
    if error is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but no Docker engine answers ({error}); scripts/test should have started one")
    pytest.skip(f"no Docker engine answers ({error}); run scripts/test as root to start one")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def layout(root: Path) -> Layout:
    layout = Layout(root)
    ensure_layout(layout)
    return layout


def init_root(root: Path) -> Layout:
    """A data root as `aiui-tui init --yes` leaves it (its folders and the commented config), made in-process.

    Only `init` and the first-run wizard create a data root; every other command refuses a missing one.
    """
    layout = Layout(root)
    ensure_layout(layout)
    write_default_config(layout)
    return layout


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No tokens or endpoints from the developer's environment leak into a test."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "CIVITAI_API_TOKEN", "HF_ENDPOINT", "AIUI_ROOT", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    user: int | None = None,
    input: str | None = None,
    timeout: float = 60,
) -> CliResult:
    """Run `aiui-tui` in a subprocess, as the installed console script would run.

    `user` runs it under another uid (tests of permissions when the suite runs as root).
    """
    full_env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "CIVITAI_API_TOKEN", "AIUI_ROOT")}
    full_env.update(env or {})
    cmd = [*(as_user(user) if user is not None else []), sys.executable, "-m", "aiui_tui", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=timeout, input=input, cwd=REPO)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def one_line_error(result, *needles: str) -> str:
    """The single `Error:` line of a failed command, checked for exit 2 and no catch-all."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Unexpected error" not in result.output and "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def as_user(uid: int) -> list[str]:
    """A command prefix running the rest as `uid` (util-linux setpriv; the suite runs as root in CI)."""
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]


@pytest.fixture
def cli():
    return run_cli


def load_services_inputs(layout: Layout):
    return load_config(layout, env={}), load_credentials(layout, env={})


# --- Docker -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def docker_client():
    if engine_error() is not None:
        pytest.skip("no Docker engine")
    import docker

    client = docker.from_env(timeout=120)
    yield client
    client.close()


@pytest.fixture
async def cleanup(docker_client, layout):
    """Remove the containers the test created for its data root (apps and dashboard tests)."""
    from aiui_tui.services.apps.spec import LABEL_ROOT

    yield
    for c in docker_client.containers.list(all=True, filters={"label": f"{LABEL_ROOT}={layout.root}"}):
        c.remove(force=True)


def static_busybox() -> Path:
    for candidate in (os.environ.get("AIUI_TEST_BUSYBOX"), "/bin/busybox", "/usr/bin/busybox"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    pytest.fail("no static busybox found: install Debian's busybox-static (scripts/test does as root)")


def build_busybox_context(dest: Path, extra_files: dict[str, bytes] | None = None) -> Path:
    """A build context: FROM scratch, the static busybox and links for its applets, a /www page."""
    (dest / "bin").mkdir(parents=True)
    shutil.copy2(static_busybox(), dest / "bin" / "busybox")
    for applet in BUSYBOX_APPLETS:
        (dest / "bin" / applet).symlink_to("busybox")
    (dest / "www").mkdir()
    (dest / "www" / "index.html").write_text("<html><body>stand-in web UI</body></html>\n")
    (dest / "tmp").mkdir()
    lines = ["FROM scratch", "COPY bin /bin", "COPY www /www", "COPY tmp /tmp"]
    for name, data in (extra_files or {}).items():
        (dest / name).write_bytes(data)
        lines.append(f"COPY {name} /data/{name}")
    lines.append('CMD ["/bin/sh"]')
    (dest / "Dockerfile").write_text("\n".join(lines) + "\n")
    return dest


@pytest.fixture(scope="session")
def busybox_image(docker_client, tmp_path_factory) -> str:
    """An image built offline: FROM scratch plus the static busybox (httpd is the stand-in UI)."""
    context = build_busybox_context(tmp_path_factory.mktemp("busybox"))
    docker_client.images.build(path=str(context), tag=BUSYBOX_IMAGE, rm=True, forcerm=True)
    return BUSYBOX_IMAGE


@dataclass
class PrivateEngine:
    """A dockerd of our own (own socket, data and exec roots), for tests that stop the engine."""

    base: Path
    process: subprocess.Popen | None = None
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.base}/docker.sock"

    def start(self, timeout: float = 60) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        log = open(self.base / "dockerd.log", "ab")  # noqa: SIM115 - dockerd writes to it until stop()
        self.process = subprocess.Popen(
            [
                "dockerd",
                f"--host={self.host}",
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                f"--data-root={self.base}/data",
                f"--exec-root={self.base}/exec",
                f"--pidfile={self.base}/dockerd.pid",
                *self.extra_args,
            ],
            stdout=log,
            stderr=log,
            env=self.env,
        )
        deadline = time.monotonic() + timeout
        import docker

        while time.monotonic() < deadline:
            try:
                docker.DockerClient(base_url=self.host, timeout=2).ping()
                return
            except Exception:
                time.sleep(0.2)
        raise RuntimeError(f"private dockerd did not answer: {(self.base / 'dockerd.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def remove(self) -> None:
        """Delete the base; dockerd leaves its network namespace mounted there (nsfs) even after a clean exit."""
        for mount_point in mounts_under(self.base):
            subprocess.run(["umount", "--lazy", mount_point], check=False, capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


def mounts_under(base: Path) -> list[str]:
    """Mount points at or below base, deepest first (/proc/mounts escapes spaces as \\040)."""
    prefix = str(base).rstrip("/") + "/"
    points = []
    for line in Path("/proc/mounts").read_text().splitlines():
        point = line.split()[1].replace("\\040", " ")
        if point.startswith(prefix) or point == str(base):
            points.append(point)
    return sorted(points, key=len, reverse=True)


@pytest.fixture
def private_engine() -> Iterator[PrivateEngine]:
    """Start and stop a dockerd of the test's own; only where we may (root with dockerd installed)."""
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs root and dockerd for private-engine tests")
        pytest.skip("a private Docker engine needs root and dockerd")
    # Unix socket paths are limited to ~108 bytes: keep the base short.
    engine = PrivateEngine(Path(f"/tmp/aiui-dk-{uuid.uuid4().hex[:8]}"))
    try:
        yield engine
    finally:
        engine.stop()
        engine.remove()


@pytest.fixture(scope="session")
def registry() -> str:
    """The local registry on 127.0.0.1:5000 started by scripts/test."""
    address = os.environ.get("AIUI_TEST_REGISTRY")
    if not address:
        if os.environ.get("CI"):
            pytest.fail("CI is set but no local registry answers (AIUI_TEST_REGISTRY unset)")
        pytest.skip("no local registry (scripts/test starts one as root)")
    return address


# --- The other programs' own code (../shared/upstream) -------------------------------------------


def upstream_dir() -> Path | None:
    """The pinned upstream corpus: $AIUI_UPSTREAM, else ../shared/upstream beside the repository."""
    chosen = os.environ.get("AIUI_UPSTREAM") or str(REPO.parent / "shared" / "upstream")
    path = Path(chosen)
    return path if (path / "README.md").is_file() else None


@pytest.fixture(scope="session")
def upstream() -> Path:
    """Where ComfyUI's, AUTOMATIC1111's, Forge's and Fooocus' own files are: tests run them, never copy them."""
    path = upstream_dir()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but ../shared/upstream is missing (set AIUI_UPSTREAM to its folder)")
        pytest.skip("the upstream corpus ../shared/upstream is absent (set AIUI_UPSTREAM)")
    return path


# Lines that conformance tests report (what each upstream program concluded), printed at the end of
# the run so the CI log shows the figures ("0 kinds missing, 0 unknown flags") of that very run.
_CONFORMANCE: list[str] = []


@pytest.fixture
def conformance():
    """`conformance("ComfyUI, root 'a b': 12/12 kinds listed, 0 missing")` adds a line to the run's report."""
    return _CONFORMANCE.append


def pytest_terminal_summary(terminalreporter) -> None:
    if _CONFORMANCE:
        terminalreporter.section("conformance with the real programs (../shared/upstream, replicas)")
        for line in _CONFORMANCE:
            terminalreporter.write_line(line)
