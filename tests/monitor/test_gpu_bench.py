"""bench/gpu.py's side of the comparison with nvidia-smi, for when it runs on a GPU machine: its CSV
parsing (a line in nvidia-smi's csv,noheader,nounits output) and the field by field comparison with
our sampler (NVML faked at its boundary: no GPU here)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aiui_tui.services.monitor.gpu import GpuSampler
from bench.gpu import FIELDS, compare, measure, parse_smi_csv
from tests.fake_nvml import FakeGpu, FakeNvml

UUID = "GPU-5e5b4c2a-0d3c-9a7e-1f6b-2c8d3e4f5a6b"
# `nvidia-smi --query-gpu=<FIELDS> --format=csv,noheader,nounits` on an H100 under load (39 C, 145 W of
# 700, 72790 MiB of 81559): the fan, which an H100 does not have, prints as [N/A].
SMI = f"0, {UUID}, NVIDIA H100 80GB HBM3, 97, 72790, 81559, 39, 145.23, 700.00, [N/A]\n"


def test_a_csv_line_is_parsed_with_unsupported_fields_as_none():
    [row] = parse_smi_csv(SMI, list(FIELDS))
    assert row["name"] == "NVIDIA H100 80GB HBM3" and row["uuid"] == UUID
    assert row["memory.used"] == 72790.0 and row["power.draw"] == 145.23 and row["utilization.gpu"] == 97.0
    assert row["fan.speed"] is None
    with pytest.raises(ValueError, match="10 fields"):
        parse_smi_csv("0, GPU-x, [Not Supported]\n", list(FIELDS))


def test_fields_are_compared_and_unsupported_ones_are_na():
    gpu = FakeGpu(
        uuid=UUID,
        memory_total=81559 * 2**20,
        memory_used=72790 * 2**20 + 5 * 2**20,
        utilization=92,
        temperature=40,
        power_mw=150_000,
        power_limit_mw=700_000,
        fan=None,
    )
    sampler = GpuSampler(FakeNvml([gpu]))
    available, gpus, _, _ = sampler.sample()
    assert available
    rows = {r["field"]: r for r in compare(list(gpus), parse_smi_csv(SMI, list(FIELDS)))}
    assert set(rows) == set(FIELDS)
    assert all(rows[f]["agree"] is True for f in FIELDS if f != "fan.speed"), rows
    assert rows["fan.speed"]["agree"] is None and rows["fan.speed"]["ours"] is None
    assert rows["memory.used"]["ours"] == 72795.0
    hot = compare([replace(gpus[0], temperature=60)], parse_smi_csv(SMI, list(FIELDS)))
    assert [r["agree"] for r in hot if r["field"] == "temperature.gpu"] == [False]


def test_without_a_gpu_the_bench_says_so_and_still_times_the_samplers():
    result = measure(samples=3, batches=1, load="torch", python="python-that-is-not-there")
    assert result["gpu_available"] is False and result["reason"] and result["load"] == "none"
    assert result["cost"]["system"]["wall_ms_median"]["median"] > 0 and "compare" not in result
    assert result["gpu_sample_under_0_2_ms"] is None
