"""The complete manifest example in docs/apps.md runs as written, on the real engine, via the CLI."""

from __future__ import annotations

import re
import shutil
import urllib.request

import pytest

from tests.apps.test_docker_apps import free_port
from tests.conftest import REPO, static_busybox

pytestmark = pytest.mark.docker
EXAMPLE_IMAGE = "busybox:1.36"


def example_manifest() -> str:
    page = (REPO / "docs" / "apps.md").read_text()
    found = re.search(r"<!-- example: tiny\.toml -->\n```toml\n(.*?)```", page, re.S)
    assert found, "docs/apps.md lost its complete example"
    return found.group(1)


@pytest.fixture
def busybox_136(docker_client, tmp_path):
    """busybox:1.36 as Docker Hub has it (CMD ["sh"], no USER, no WORKDIR), built offline unless
    the engine already holds the real one; only an image this fixture built is removed after."""
    import docker.errors

    try:
        docker_client.images.get(EXAMPLE_IMAGE)
        yield EXAMPLE_IMAGE
        return
    except docker.errors.ImageNotFound:
        pass
    (tmp_path / "ctx" / "bin").mkdir(parents=True)
    shutil.copy2(static_busybox(), tmp_path / "ctx" / "bin" / "busybox")
    for applet in ("sh", "ls", "httpd"):
        (tmp_path / "ctx" / "bin" / applet).symlink_to("busybox")
    (tmp_path / "ctx" / "Dockerfile").write_text('FROM scratch\nCOPY bin /bin\nCMD ["sh"]\n')
    docker_client.images.build(path=str(tmp_path / "ctx"), tag=EXAMPLE_IMAGE, rm=True)
    yield EXAMPLE_IMAGE
    docker_client.images.remove(EXAMPLE_IMAGE, force=True)


def test_the_complete_example_in_the_docs_starts_as_written(busybox_136, tmp_path, cli, docker_client):
    root = tmp_path / "root"
    assert cli("--root", str(root), "init", "--yes").returncode == 0
    (root / "config" / "apps" / "tiny.toml").write_text(example_manifest())
    (root / "models" / "checkpoints" / "SDXL").mkdir()
    (root / "models" / "checkpoints" / "SDXL" / "mine.safetensors").write_bytes(b"x")
    port = free_port()  # this engine has no bridge network: the test's config, not the manifest, says host
    config = root / "config" / "aiui.toml"
    config.write_text(config.read_text() + f'\n[apps.overrides.tiny]\nnetwork = "host"\nhost_port = {port}\n')
    try:
        started = cli("--root", str(root), "app", "start", "tiny", timeout=120)
        assert started.returncode == 0, started.output
        assert started.stdout.strip() == f"http://127.0.0.1:{port}/"
        page = urllib.request.urlopen(started.stdout.strip(), timeout=10).read().decode()
        assert "mine.safetensors" in page and "SDXL" in page
        doctor = cli("--root", str(root), "app", "doctor", "tiny")
        assert doctor.returncode == 0 and "ok   contract.cmd" in doctor.stdout, doctor.output
        assert cli("--root", str(root), "app", "stop", "tiny").returncode == 0
    finally:
        for c in docker_client.containers.list(all=True, filters={"label": f"aiui.root={root}"}):
            c.remove(force=True)
