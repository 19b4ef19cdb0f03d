"""Each built-in manifest, unchanged but for its image, starts a replica of its real image on the
real engine (tests/apps/replica_images.py): ready on 127.0.0.1, every library kind read where the
program reads it, outputs written and owned by the host user, nothing written into the library.

The host user is uid 1234, neither root nor the 1000 some images run as: the suite runs as root
and acts for it as under sudo (SUDO_UID), so folders it creates belong to that user too.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

import aiohttp
import pytest

from aiui_tui.bus import Bus
from aiui_tui.config import Config
from aiui_tui.core.apps import NOT_CREATED, READY, STOPPED
from aiui_tui.paths import Layout, ensure_layout
from aiui_tui.services.apps import AppService
from aiui_tui.services.apps.errors import AppError
from aiui_tui.services.apps.manifest import builtin_manifests
from aiui_tui.services.apps.spec import LABEL_ROOT
from tests.apps.replica_images import build_replica
from tests.apps.test_docker_apps import free_port

pytestmark = pytest.mark.docker

HOST_UID = 1234
BUILTINS = builtin_manifests()


@pytest.fixture(scope="module")
def replicas(docker_client, upstream, tmp_path_factory) -> dict[str, str]:
    work = tmp_path_factory.mktemp("replicas")
    return {app: build_replica(docker_client, upstream, app, work, f"aiui-test/replica-{app}:1") for app in BUILTINS}


@pytest.fixture
def host_user(monkeypatch):
    """Act for uid 1234 the way `sudo aiui-tui` acts for the user behind it."""
    monkeypatch.setenv("SUDO_UID", str(HOST_UID))
    monkeypatch.setenv("SUDO_GID", str(HOST_UID))
    return HOST_UID


@pytest.fixture
def data_root(tmp_path, host_user, docker_client) -> Layout:
    # A name that breaks careless quoting; the folders are created as under sudo: the user's.
    layout = Layout(tmp_path / f"data root #{uuid.uuid4().hex[:4]}")
    ensure_layout(layout)
    yield layout
    for c in docker_client.containers.list(all=True, filters={"label": f"{LABEL_ROOT}={layout.root}"}):
        c.remove(force=True)


def fill_library(layout: Layout) -> dict[str, str]:
    """One model file per kind, in a subfolder; {kind: name relative to the kind folder}."""
    names = {}
    for kind in {k for m in BUILTINS.values() for k in m.manifest.mounts.models}:
        path = layout.kind_dir(kind) / "sub" / f"{kind}-model.safetensors"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"model bytes")
        names[kind] = f"sub/{path.name}"
    return names


def tree(folder: Path) -> dict[str, tuple]:
    """Every entry under `folder` with what a write would change."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            out[str(path.relative_to(folder))] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_uid)
    return out


async def start_service(layout: Layout, app: str, image: str, port: int) -> AppService:
    override = {"image": image, "network": "host", "host_port": port}  # tests keep to loopback
    config = Config.model_validate({"apps": {"overrides": {app: override}}})
    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    service = AppService(layout, config, bus)
    await service.start(supervise=False)
    return service


async def fetch(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200, url
        return await response.text()


@pytest.mark.parametrize("app", sorted(BUILTINS))
async def test_a_builtin_manifest_starts_its_image_replica(app, replicas, data_root, host_user, conformance):
    layout = data_root
    manifest = BUILTINS[app].manifest
    names = fill_library(layout)
    library_before = tree(layout.models_dir)
    port = free_port()
    service = await start_service(layout, app, replicas[app], port)
    try:
        status = await service.start_app(app)
        assert status.state == READY and status.url == f"http://127.0.0.1:{port}/"
        report = (await fetch(status.url + "report.txt")).splitlines()
        assert f"uid {host_user} gid {host_user}" in " ".join(report)
        assert f"listen 127.0.0.1:{port}" in report
        unread = [
            kind for kind, inside in manifest.mounts.models.items() if f"read {inside} {names[kind]}" not in report
        ]
        assert unread == [], f"kinds the program did not read where mounted: {unread}\n" + "\n".join(report)
        stopped = await service.stop_app(app)
        assert stopped.state == STOPPED
    finally:
        await service.close()

    outputs = tree(layout.app_outputs_dir(app))
    images = [name for name in outputs if name.endswith(".png")]
    assert images, f"no image written into {layout.app_outputs_dir(app)}"
    not_mine = sorted(name for name, (_m, _s, _t, uid) in outputs.items() if uid != host_user)
    assert not_mine == [], f"outputs not owned by the host user: {not_mine}"
    config = tree(layout.app_config_dir(app))
    assert sorted(name for name, (_m, _s, _t, uid) in config.items() if uid != host_user) == []
    assert tree(layout.models_dir) == library_before, "the container wrote into the library"
    conformance(
        f"{manifest.display_title} replica ({manifest.contract.source}): ready on 127.0.0.1:{port}, "
        f"{len(manifest.mounts.models) - len(unread)}/{len(manifest.mounts.models)} kinds read, "
        f"{len(images)} image(s) owned by uid {host_user}, library unchanged"
    )


@pytest.mark.parametrize("change", [{"USER": "root"}, {"WORKDIR": "/app"}])
async def test_the_contract_check_refuses_an_image_whose_user_or_workdir_changed(
    change, docker_client, upstream, tmp_path, data_root, conformance
):
    tag = f"aiui-test/replica-fooocus:changed-{next(iter(change)).lower()}"
    build_replica(docker_client, upstream, "fooocus", tmp_path / "ctx", tag, **change)
    service = await start_service(data_root, "fooocus", tag, free_port())
    try:
        with pytest.raises(AppError) as err:
            await service.start_app("fooocus")
    finally:
        await service.close()
    field = "contract.user" if "USER" in change else "contract.workdir"
    message = err.value.message
    assert "\n" not in message and field in message and repr(next(iter(change.values()))) in message
    assert "apps.overrides.fooocus.image" in err.value.fix
    assert service.status("fooocus").state == NOT_CREATED
    assert docker_client.containers.list(all=True, filters={"label": f"{LABEL_ROOT}={data_root.root}"}) == []
    conformance(f"contract check, Fooocus replica with {change}: refused in one line: {message}")


def test_app_doctor_shows_the_contract_of_the_pulled_image(replicas, docker_client, upstream, tmp_path, cli):
    root = tmp_path / "root"
    assert cli("--root", str(root), "init", "--yes").returncode == 0
    config = root / "config" / "aiui.toml"
    override = f'\n[apps.overrides.fooocus]\nimage = "{replicas["fooocus"]}"\nnetwork = "host"\n'  # no bridge here
    config.write_text(config.read_text() + override)
    good = cli("--root", str(root), "app", "doctor", "fooocus")
    assert good.returncode == 0, good.output
    assert "ok   contract.user" in good.stdout and "ok   contract.workdir" in good.stdout
    assert "/content/app/models (rw)" in good.stdout  # the mounts it would make
    changed = "aiui-test/replica-fooocus:doctor"
    build_replica(docker_client, upstream, "fooocus", tmp_path / "ctx", changed, USER="root")
    config.write_text(config.read_text().replace(replicas["fooocus"], changed))
    bad = cli("--root", str(root), "app", "doctor", "fooocus", "--json")
    assert bad.returncode == 1
    rows = {row["name"]: row for row in json.loads(bad.stdout)["checks"]}
    assert rows["contract.user"]["status"] == "fail" and "'root'" in rows["contract.user"]["detail"]
    assert rows["contract.workdir"]["status"] == "ok"
