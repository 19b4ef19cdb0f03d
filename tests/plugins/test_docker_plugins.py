"""The example plugins on the real engine: Forge (a plugin's app) starts; the webhook hears it."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest

from aiui_tui.paths import Layout, ensure_layout
from aiui_tui.services.apps.spec import LABEL_ROOT
from tests.apps.test_docker_apps import free_port
from tests.conftest import build_busybox_context, run_cli
from tests.plugins.conftest import copy_example, enable, webhook_receiver

pytestmark = pytest.mark.docker
FORGE_STAND_IN = "aiui-test/forge-stand-in:1"

# The manifest runs the image's venv python on launch.py in /opt/stable-diffusion-webui-forge with
# `--server-name HOST --port PORT ...`; this `python` serves a page there (and fails as Python would
# without launch.py in the working directory).
LAUNCHER = """#!/bin/sh
[ -f "$1" ] || { echo "python: can't open file '$1'" >&2; exit 2; }
host=0.0.0.0; port=7860
while [ $# -gt 0 ]; do
  case "$1" in --server-name) host="$2"; shift;; --port) port="$2"; shift;; esac
  shift
done
echo "Forge stand-in on $host:$port"
exec httpd -f -p "$host:$port" -h /www
"""


@pytest.fixture(scope="module")
def forge_image(docker_client, tmp_path_factory):
    context = build_busybox_context(tmp_path_factory.mktemp("forge"))
    venv = context / "opt" / "environments" / "python" / "forge" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").write_text(LAUNCHER)
    (venv / "python").chmod(0o755)
    (context / "opt" / "stable-diffusion-webui-forge").mkdir()
    (context / "opt" / "stable-diffusion-webui-forge" / "launch.py").write_text("# stand-in\n")
    dockerfile = (context / "Dockerfile").read_text().replace("COPY tmp /tmp", "COPY tmp /tmp\nCOPY opt /opt")
    (context / "Dockerfile").write_text(dockerfile.replace('CMD ["/bin/sh"]', 'CMD ["init.sh"]'))
    docker_client.images.build(path=str(context), tag=FORGE_STAND_IN, rm=True, forcerm=True)
    return FORGE_STAND_IN


async def test_forge_plugin_app_lists_starts_and_the_webhook_hears_it(tmp_path, forge_image, docker_client):
    layout = Layout(tmp_path / "root")
    ensure_layout(layout)
    root = str(layout.root)
    copy_example(layout.root, "forge")
    copy_example(layout.root, "webhook")
    port = free_port()
    # This engine has no bridge network (--bridge=none): the override runs Forge on the host network.
    layout.config_file.write_text(
        f'[apps.overrides.forge]\nimage = "{forge_image}"\nnetwork = "host"\nhost_port = {port}\n'
    )
    listed = run_cli("--root", root, "app", "list", "--json")
    assert "forge" not in {a["name"] for a in json.loads(listed.stdout)["apps"]}  # disabled: no trace

    enable(layout.root, "forge")
    try:
        async with webhook_receiver() as receiver:
            enable(layout.root, "webhook", url=receiver.url)
            listed = await asyncio.to_thread(run_cli, "--root", root, "app", "list", "--json")
            apps = {a["name"]: a for a in json.loads(listed.stdout)["apps"]}
            assert apps["forge"]["source"] == "plugin forge" and apps["forge"]["title"] == "Forge"

            started = await asyncio.to_thread(run_cli, "--root", root, "app", "start", "forge", timeout=120)
            assert started.returncode == 0, started.output
            assert started.stdout.strip() == f"http://127.0.0.1:{port}/"
            body = await asyncio.to_thread(lambda: urllib.request.urlopen(started.stdout.strip(), timeout=5).read())
            assert b"stand-in web UI" in body
            [container] = docker_client.containers.list(filters={"label": f"{LABEL_ROOT}={layout.root}"})
            args = container.attrs["Args"]
            assert args[args.index("--server-name") + 1] == "127.0.0.1"  # host network: loopback, not 0.0.0.0
            # No NVIDIA runtime here: the cpu profile's flags, and no GPU-only performance options.
            assert "--always-cpu" in args and "--attention-pytorch" not in args

            stopped = await asyncio.to_thread(run_cli, "--root", root, "app", "stop", "forge")
            assert stopped.returncode == 0, stopped.output
            assert receiver.events() == ["app.ready", "app.stopped"]
            ready = receiver.posts[0]["body"]["data"]
            assert ready["app"] == "forge" and ready["url"] == f"http://127.0.0.1:{port}/"

            models = await asyncio.to_thread(run_cli, "--root", root, "models", "search", "flux", "--json")
            ids = {r["id"] for r in json.loads(models.stdout)["results"]}
            assert {"flux1-dev-bnb-nf4-v2", "flux1-dev-fp8"} <= ids
    finally:
        for c in docker_client.containers.list(all=True, filters={"label": f"{LABEL_ROOT}={layout.root}"}):
            c.remove(force=True)
