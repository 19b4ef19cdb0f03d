"""A bridge-mode app on an engine without a bridge network (issue 16, 6).

The test engine runs as dockerd --bridge=none (scripts/test), as rootless or locked-down engines do:
a bridge-mode container starts there with no network and its UI never answers. `app start` refuses
at once with the fix, `doctor` names the apps concerned, and the fix (network = "host") works.
"""

from __future__ import annotations

import json
import time

import pytest

from aiui_tui.config import AppOverride, Config
from aiui_tui.core.apps import READY
from aiui_tui.services.apps.errors import AppError
from aiui_tui.services.apps.network import has_default_bridge
from aiui_tui.services.doctor import DoctorContext, check_docker
from tests.apps.test_app_cli import run_main
from tests.apps.test_docker_apps import free_port, manifest, open_service

pytestmark = pytest.mark.docker

LISTEN = '["httpd", "-f", "-p", "{listen}:{port}", "-h", "/www"]'


@pytest.fixture
def no_bridge(docker_client):
    if has_default_bridge(docker_client):
        pytest.skip("this engine has a bridge network (scripts/test starts dockerd with --bridge=none)")


async def test_a_bridge_app_is_refused_at_once_and_host_network_is_the_fix(
    layout, busybox_image, docker_client, no_bridge, cleanup
):
    port = free_port()
    (layout.user_apps_dir / "bridged.toml").write_text(
        manifest("bridged", busybox_image, port, LISTEN, network="bridge")
    )
    service, _ = await open_service(layout, supervise=False)
    try:
        began = time.monotonic()
        with pytest.raises(AppError) as err:
            await service.start_app("bridged")
        assert time.monotonic() - began < 15  # not the readiness timeout (15 s here, 600 s by default)
        assert err.value.message == (
            "bridged needs Docker's bridge network, and this engine has none (dockerd runs with --bridge=none)."
        )
        assert 'apps.overrides.bridged.network = "host"' in err.value.fix
        assert service.status("bridged").reason == "no bridge network in Docker"
        assert not docker_client.containers.list(all=True, filters={"label": "aiui.app=bridged"})
    finally:
        await service.close()

    config = Config()
    config.apps.overrides["bridged"] = AppOverride(network="host")
    service, _ = await open_service(layout, config, supervise=False)
    try:
        status = await service.start_app("bridged")
        assert status.state == READY and status.url == f"http://127.0.0.1:{port}/"
    finally:
        await service.close()


def test_doctor_names_the_apps_that_need_a_bridge(layout, no_bridge):
    (layout.user_apps_dir / "bridged.toml").write_text(manifest("bridged", "x", free_port(), network="bridge"))
    (layout.user_apps_dir / "hosted.toml").write_text(manifest("hosted", "x", free_port(), network="host"))
    config = Config()
    config.apps.enabled = ["comfyui"]
    config.apps.overrides["comfyui"] = AppOverride(network="host")  # fixed: no longer counted
    checks = {c.name: c for c in check_docker(DoctorContext(layout=layout, config=config, env={}))}
    network = checks["docker network"]
    assert network.status == "warn"
    assert network.detail == "no bridge network (dockerd runs with --bridge=none), and bridged need one"
    assert 'apps.overrides.bridged.network = "host"' in network.fix

    (layout.user_apps_dir / "bridged.toml").unlink()
    checks = {c.name: c for c in check_docker(DoctorContext(layout=layout, config=config, env={}))}
    assert checks["docker network"].status == "ok" and "no enabled app needs one" in checks["docker network"].detail


def test_app_doctor_says_the_bridge_is_missing(capsys, layout, no_bridge):
    (layout.user_apps_dir / "bridged.toml").write_text(manifest("bridged", "x", free_port(), network="bridge"))
    (layout.user_apps_dir / "hosted.toml").write_text(manifest("hosted", "x", free_port(), network="host"))
    result = run_main(capsys, "--root", str(layout.root), "app", "doctor", "bridged", "--json")
    rows = {row["name"]: row for row in json.loads(result.stdout)["checks"]}
    assert result.returncode == 1 and rows["network"]["status"] == "fail"
    assert 'apps.overrides.bridged.network = "host"' in rows["network"]["fix"]
    hosted = run_main(capsys, "--root", str(layout.root), "app", "doctor", "hosted", "--json")
    assert {row["name"]: row for row in json.loads(hosted.stdout)["checks"]}["network"]["status"] == "info"
