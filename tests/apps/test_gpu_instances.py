"""One instance per GPU on a fake two-GPU machine, checked on real containers.

The fake is at the two narrowest boundaries: NVML (tests.fake_nvml, two H100s) and the NVIDIA
Container Toolkit's hook, which a private dockerd finds on its PATH as a script that only reads its
input. dockerd itself is real: it registers its NVIDIA device driver because the hook exists,
turns each device request into NVIDIA_VISIBLE_DEVICES for the container, and runs the hook.
"""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from aiui_tui.cli.main import main
from aiui_tui.services.apps.spec import LABEL_ROOT
from tests.apps.test_docker_apps import free_port
from tests.conftest import build_busybox_context
from tests.fake_nvml import FakeGpu, FakeNvml

pytestmark = pytest.mark.docker

HOOK = "#!/bin/sh\n# stands in for the NVIDIA Container Toolkit's prestart hook\ncat >/dev/null\nexit 0\n"


@pytest.fixture
def gpu_engine(private_engine, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-container-runtime-hook").write_text(HOOK)
    (bin_dir / "nvidia-container-runtime-hook").chmod(0o755)
    private_engine.env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    private_engine.extra_args = ("--add-runtime", "nvidia=runc")
    private_engine.start()
    import docker

    client = docker.DockerClient(base_url=private_engine.host, timeout=120)
    client.images.build(path=str(build_busybox_context(tmp_path / "ctx")), tag="aiui-test/busybox:1", rm=True)
    yield client
    client.close()


@pytest.fixture
def two_gpus(monkeypatch):
    fake = FakeNvml([FakeGpu(uuid="GPU-aaaa"), FakeGpu(uuid="GPU-bbbb", compute_capability=(8, 9))])
    monkeypatch.setattr("aiui_tui.services.monitor.nvml.load_nvml", lambda: fake)
    monkeypatch.setattr("aiui_tui.services.monitor.gpu.load_nvml", lambda: fake)
    return fake


def test_one_instance_per_gpu_with_its_own_device_port_and_outputs(
    gpu_engine, private_engine, two_gpus, tmp_path, capsys
):
    root = tmp_path / "root"
    port = free_port()
    assert main(["--root", str(root), "init", "--yes"]) == 0
    (root / "config" / "aiui.toml").write_text(f'[docker]\nhost = "{private_engine.host}"\n')
    (root / "config" / "apps" / "stand-in.toml").write_text(
        'name = "stand-in"\nimage = "aiui-test/busybox:1"\n'
        'command = ["httpd", "-f", "-p", "127.0.0.1:{port}", "-h", "/www"]\n'
        f'port = {port}\nnetwork = "host"\ngpu = "required"\n'
        '[ready]\nhttp_path = "/"\ntimeout_s = 20\n[mounts]\noutputs = "/www/outputs"\n'
    )
    capsys.readouterr()
    try:
        assert main(["--root", str(root), "app", "start", "stand-in", "--gpu", "0"]) == 0
        assert main(["--root", str(root), "app", "start", "stand-in", "--gpu", "1"]) == 0
        urls = capsys.readouterr().out.split()
        assert urls == [f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{port + 1}/"]
        for url in urls:
            assert b"stand-in web UI" in urllib.request.urlopen(url, timeout=5).read()

        containers = {
            c.labels["aiui.app"]: c for c in gpu_engine.containers.list(filters={"label": f"{LABEL_ROOT}={root}"})
        }
        assert sorted(containers) == ["stand-in-gpu0", "stand-in-gpu1"]
        for index in (0, 1):
            c = containers[f"stand-in-gpu{index}"]
            host = c.attrs["HostConfig"]
            [request] = host["DeviceRequests"]
            assert request["DeviceIDs"] == [str(index)] and request["Capabilities"] == [["gpu"]]
            assert request["Count"] == 0
            assert c.attrs["Args"][-1] == "/www" and f"127.0.0.1:{port + index}" in c.attrs["Args"]
            outputs = [m for m in c.attrs["Mounts"] if m["Destination"] == "/www/outputs"]
            assert outputs[0]["Source"] == str(root / "outputs" / "stand-in" / f"gpu{index}")
            assert c.labels["aiui.gpu"] == str(index) and c.labels["aiui.instance-of"] == "stand-in"
            # dockerd's NVIDIA driver (real) handed the container its one GPU.
            environ = c.exec_run(["cat", "/proc/1/environ"]).output.split(b"\0")
            assert f"NVIDIA_VISIBLE_DEVICES={index}".encode() in environ

        # A fresh process adopts both instances from their labels: two cards, two statuses.
        assert main(["--root", str(root), "app", "status", "--json"]) == 0
        statuses = {s["name"]: s for s in json.loads(capsys.readouterr().out)["apps"]}
        assert statuses["stand-in-gpu0"]["state"] == "ready" and statuses["stand-in-gpu1"]["state"] == "ready"
        assert statuses["stand-in-gpu1"]["url"] == f"http://127.0.0.1:{port + 1}/"

        assert main(["--root", str(root), "app", "start", "stand-in", "--gpu", "2"]) == 1
        err = capsys.readouterr().err
        assert "There is no GPU 2: this machine has 2 (0-1)." in err and "Traceback" not in err

        # --all-gpus: both at once (recreated on the same ports).
        assert main(["--root", str(root), "app", "start", "stand-in", "--all-gpus"]) == 0
        assert sorted(capsys.readouterr().out.split()) == urls
    finally:
        for c in gpu_engine.containers.list(all=True, filters={"label": f"{LABEL_ROOT}={root}"}):
            c.remove(force=True)
