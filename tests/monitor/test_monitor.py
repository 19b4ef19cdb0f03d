"""The system and GPU monitor: psutil for real, NVML faked at its boundary (no GPU here)."""

from __future__ import annotations

import asyncio
import json

import pytest

from aiui_tui.bus import Bus
from aiui_tui.core.events import GpuSample, SystemSample
from aiui_tui.services.monitor import MonitorService
from aiui_tui.services.monitor.cgroups import container_of_pid
from aiui_tui.services.monitor.gpu import GpuSampler
from aiui_tui.services.ticker import Ticker
from tests.conftest import init_root
from tests.fake_nvml import FakeGpu, FakeNvml

CID = "a" * 64
OTHER = "b" * 64


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fake_proc(tmp_path, cgroups: dict[int, str]):
    for pid, text in cgroups.items():
        (tmp_path / "proc" / str(pid)).mkdir(parents=True)
        (tmp_path / "proc" / str(pid) / "cgroup").write_text(text)
    return tmp_path / "proc"


def samples(seen: list) -> list[SystemSample]:
    return [e for e in seen if isinstance(e, SystemSample)]


async def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def monitor(tmp_path, nvml, proc=None, app_of_container=None, ticker=None):
    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    seen: list = []
    bus.subscribe(seen.append)
    service = MonitorService(
        bus,
        {"models": tmp_path},
        nvml=nvml,
        proc=proc or tmp_path / "none",
        app_of_container=app_of_container,
        ticker=ticker,
    )
    return service, seen


async def test_no_driver_is_one_clear_state_and_nvml_is_not_retried_every_tick(tmp_path):
    nvml = FakeNvml(library_missing=True)
    service, seen = await monitor(tmp_path, nvml)
    for _ in range(5):
        _, gpu = await service.sample_once()
    assert not gpu.available and gpu.gpus == ()
    assert gpu.reason == "no NVIDIA driver found (libnvidia-ml.so is missing)" and "install" in gpu.fix
    assert nvml.init_calls == 1
    assert len([e for e in seen if isinstance(e, SystemSample)]) == 5


def test_init_is_tried_again_after_a_while():
    nvml, clock = FakeNvml(library_missing=True), Clock()
    sampler = GpuSampler(nvml, clock=clock)
    sampler.sample()
    clock.now += 60
    sampler.sample()
    assert nvml.init_calls == 1
    nvml.library_missing = False
    nvml.gpus = [FakeGpu()]
    clock.now += 300
    available, gpus, _, _ = sampler.sample()
    assert available and len(gpus) == 1 and nvml.init_calls == 2


@pytest.mark.parametrize("count", [0, 1, 2])
async def test_every_gpu_is_sampled_with_unsupported_fields_as_none(tmp_path, count):
    gpus = [FakeGpu(uuid=f"GPU-{i}", utilization=10 * i, memory_used=(i + 1) * 1024**3) for i in range(count)]
    service, _ = await monitor(tmp_path, FakeNvml(gpus))
    _, sample = await service.sample_once()
    assert sample.available
    assert [g.index for g in sample.gpus] == list(range(count))
    for i, g in enumerate(sample.gpus):
        assert g.utilization == 10 * i and g.memory_used == (i + 1) * 1024**3
        assert g.fan_percent is None  # an H100 has no fan reading: unavailable, not an error
        assert g.power_w == 70.0 and g.power_limit_w == 700.0 and g.temperature == 35
    assert service.last_gpu is sample


async def test_a_gpu_vanishing_is_reported_with_its_fix(tmp_path):
    gpus = [FakeGpu(uuid="GPU-0"), FakeGpu(uuid="GPU-1")]
    service, _ = await monitor(tmp_path, FakeNvml(gpus))
    gpus[1].lost = True
    _, sample = await service.sample_once()
    assert sample.available and sample.gpus[1].lost and not sample.gpus[0].lost
    gpus[0].lost = True
    _, sample = await service.sample_once()
    assert not sample.available and "is lost" in sample.reason and "restart the container" in sample.fix


async def test_gpu_processes_are_mapped_to_app_containers_through_cgroups(tmp_path):
    proc = fake_proc(
        tmp_path,
        {
            101: f"0::/system.slice/docker-{CID}.scope\n",  # cgroup v2, systemd driver
            102: f"12:memory:/docker/{OTHER}\n1:name=systemd:/docker/{OTHER}\n",  # cgroup v1
            103: "0::/user.slice/user-1000.slice/session-2.scope\n",  # a desktop process
        },
    )
    gpu = FakeGpu(processes=[(101, 3 * 1024**3), (102, 1024**3), (103, 512 * 1024**2), (104, 1)])
    apps = {CID: "fooocus", OTHER: "comfyui"}
    service, _ = await monitor(tmp_path, FakeNvml([gpu]), proc, apps.get)
    _, sample = await service.sample_once()
    by_pid = {p.pid: p.app for p in sample.gpus[0].processes}
    assert by_pid == {101: "fooocus", 102: "comfyui", 103: None, 104: None}
    assert service.gpu_memory_of_container(CID) == 3 * 1024**3
    assert service.gpu_memory_of_container(OTHER) == 1024**3


@pytest.mark.docker
def test_a_real_container_pid_maps_to_its_id(docker_client, busybox_image):
    container = docker_client.containers.run(busybox_image, ["sleep", "30"], detach=True, network_mode="none")
    try:
        container.reload()
        pid = container.attrs["State"]["Pid"]
        assert container_of_pid(pid) == container.id
    finally:
        container.remove(force=True)


async def test_system_sample(tmp_path):
    service, seen = await monitor(tmp_path, FakeNvml([]))
    await service.sample_once()
    await asyncio.sleep(0.2)
    system, _ = await service.sample_once()
    assert len(system.cpu_per_core) >= 1 and 0 <= system.cpu_percent <= 100
    assert 0 < system.memory_used < system.memory_total
    assert system.disks[0].label == "models" and system.disks[0].free > 0
    assert service.last_system is system
    assert [type(e) for e in seen] == [SystemSample, GpuSample, SystemSample]  # no GPU: said once


async def test_no_gpu_is_said_once_until_that_changes_and_gpus_are_published_every_tick(tmp_path):
    nvml = FakeNvml(library_missing=True)
    service, seen = await monitor(tmp_path, nvml)
    for _ in range(3):
        await service.sample_once()
    assert [e.available for e in seen if isinstance(e, GpuSample)] == [False]
    service.gpu = GpuSampler(FakeNvml([FakeGpu(utilization=5)]))  # a driver installed meanwhile
    for _ in range(3):
        await service.sample_once()
    gpus = [e for e in seen if isinstance(e, GpuSample)]
    assert [e.available for e in gpus] == [False, True, True, True]  # the same figures: each tick, for history
    assert len(samples(seen)) == 6


async def test_the_monitor_samples_every_tick_of_its_ticker_the_first_at_once(tmp_path):
    ticker = Ticker(3600)  # no tick of its own during the test: each tick below is driven by hand
    service, seen = await monitor(tmp_path, FakeNvml([]), ticker=ticker)
    try:
        await service.start()
        await wait_for(lambda: len(samples(seen)) == 1)  # the first sample does not wait for a tick
        for expected in (2, 3):
            await ticker.tick_now()
            assert len(samples(seen)) == expected
    finally:
        await service.close()
        await ticker.close()
    assert service.ticker is ticker and ticker.thread_calls == 3


async def test_without_a_shared_ticker_the_monitor_keeps_its_own_at_its_interval(tmp_path):
    service, seen = await monitor(tmp_path, FakeNvml([]))
    service.interval_s = 0.05
    await service.start()
    try:
        await wait_for(lambda: len(samples(seen)) >= 3)
    finally:
        await service.close()
    count = len(samples(seen))
    await asyncio.sleep(0)
    assert len(samples(seen)) == count  # closed: no more samples


async def test_a_failing_sample_is_logged_once_per_distinct_error_and_sampling_goes_on(tmp_path, caplog):
    ticker = Ticker(3600)
    service, seen = await monitor(tmp_path, FakeNvml([]), ticker=ticker)
    real = service.system.sample
    errors = iter([OSError("proc gone"), OSError("proc gone"), OSError("proc gone"), ValueError("bad line")])

    def failing():
        error = next(errors, None)
        if error is not None:
            raise error
        return real()

    service.system.sample = failing
    try:
        await service.start()
        await wait_for(lambda: ticker.thread_calls == 1)
        for _ in range(4):
            await ticker.tick_now()
    finally:
        await service.close()
        await ticker.close()
    logged = [r.getMessage() for r in caplog.records if "periodic look failed" in r.getMessage()]
    assert len(logged) == 2 and "proc gone" in logged[0] and "bad line" in logged[1]
    assert all("job='monitor'" in line for line in logged)
    assert len(samples(seen)) == 1  # the fifth look worked again


def test_stats_json_without_a_gpu_lists_none_and_says_why(cli, tmp_path):
    init_root(tmp_path / "root")
    result = cli("--root", str(tmp_path / "root"), "stats", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["gpus"] == [] and data["gpu_available"] is False
    assert "NVIDIA" in data["gpu_reason"]
    assert data["system"]["memory_total"] > 0
    assert {d["label"] for d in data["system"]["disks"]} == {"models", "outputs"}
