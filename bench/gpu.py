"""The system/GPU sampler on a real GPU: per-sample cost, and its fields against `nvidia-smi` in the same run.

  cost     --samples samples of SystemSampler.sample() and GpuSampler.sample() (NVML), each timed
           (wall and this thread's CPU); min / median / p95 per batch, min and median over --batches.
           Target: a GPU sample < 0.2 ms.
  compare  each GPU's fields from our sampler and from
           `nvidia-smi --query-gpu=... --format=csv,noheader,nounits` taken right after, side by side;
           a field either side does not support is n/a (an H100 has no fan).
  --load torch  runs a matrix multiply loop on every GPU in a child process (--python with torch)
           while measuring, so utilisation, power and memory are not idle figures.

Without an NVIDIA driver it says so, still times the samplers (the no-GPU path) and exits 0.
  .venv/bin/python bench/gpu.py [--samples 200] [--batches 5] [--load torch --python /path/python] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiui_tui.services.monitor.gpu import GpuSampler
from aiui_tui.services.monitor.system import SystemSampler

# nvidia-smi query field -> (our GpuStats attribute, how to turn ours into nvidia-smi's unit, tolerance)
MiB = 1 << 20
FIELDS: dict[str, tuple[str, object, float]] = {
    "index": ("index", int, 0),
    "uuid": ("uuid", str, 0),
    "name": ("name", str, 0),
    "utilization.gpu": ("utilization", float, 15),  # %, sampled over different windows: loose
    "memory.used": ("memory_used", lambda b: b / MiB, 64),  # MiB
    "memory.total": ("memory_total", lambda b: b / MiB, 1),
    "temperature.gpu": ("temperature", float, 2),  # C
    "power.draw": ("power_w", float, 0.15),  # W; relative tolerance (it moves between the two reads)
    "enforced.power.limit": ("power_limit_w", float, 0.01),
    "fan.speed": ("fan_percent", float, 5),  # %
}
NA = ("[N/A]", "[Not Supported]", "N/A", "[Unknown Error]", "")
TORCH_LOAD = """
import torch, time
xs = [torch.randn(8192, 8192, device=f"cuda:{i}") for i in range(torch.cuda.device_count())]
print("loaded", flush=True)
while True:
    for x in xs:
        x @ x
"""


def parse_smi_csv(text: str, fields: list[str]) -> list[dict[str, str | float | None]]:
    """`nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits` -> one dict per GPU; n/a -> None."""
    rows = []
    for line in text.strip().splitlines():
        values = [v.strip() for v in line.split(",")]
        if len(values) != len(fields):
            raise ValueError(f"nvidia-smi gave {len(values)} values for {len(fields)} fields: {line!r}")
        row: dict[str, str | float | None] = {}
        for field, value in zip(fields, values, strict=True):
            if value in NA:
                row[field] = None
            elif field in ("uuid", "name"):
                row[field] = value
            else:
                row[field] = float(value)
        rows.append(row)
    return rows


def compare(ours: list, smi: list[dict]) -> list[dict]:
    """One row per GPU and field: ours, nvidia-smi's, and whether they agree (None: n/a on a side)."""
    out = []
    by_index = {int(row["index"]): row for row in smi if row.get("index") is not None}
    for gpu in ours:
        row = by_index.get(gpu.index, {})
        for field, (attr, convert, tolerance) in FIELDS.items():
            mine = getattr(gpu, attr)
            mine = None if mine is None else convert(mine)  # type: ignore[operator]
            theirs = row.get(field)
            if mine is None or theirs is None:
                agree = None
            elif isinstance(mine, str):
                agree = mine == theirs
            elif field == "power.draw":
                agree = abs(mine - theirs) <= tolerance * max(abs(theirs), 1.0)
            else:
                agree = abs(mine - float(theirs)) <= tolerance
            out.append({"gpu": gpu.index, "field": field, "ours": mine, "nvidia_smi": theirs, "agree": agree})
    return out


def nvidia_smi() -> list[dict] | str:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return "nvidia-smi not found"
    fields = list(FIELDS)
    done = subprocess.run(
        [exe, f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if done.returncode != 0:
        return f"nvidia-smi failed: {(done.stderr or done.stdout).strip()[:200]}"
    return parse_smi_csv(done.stdout, fields)


def timed(sample, count: int) -> dict:
    walls, cpus = [], []
    for _ in range(count):
        w, c = time.perf_counter(), time.thread_time()
        sample()
        cpus.append(time.thread_time() - c)
        walls.append(time.perf_counter() - w)
    walls.sort()
    return {
        "wall_ms_median": round(1000 * statistics.median(walls), 4),
        "wall_ms_p95": round(1000 * walls[int(0.95 * (len(walls) - 1))], 4),
        "cpu_ms_mean": round(1000 * sum(cpus) / len(cpus), 4),
    }


def cost(samples: int, batches: int) -> dict:
    system, gpu = SystemSampler({"root": Path("/")}), GpuSampler()
    gpu.sample()  # NVML initialised once, before timing (as the monitor does at its first tick)
    runs: dict[str, list[dict]] = {"system": [], "gpu": []}
    for _ in range(batches):  # interleaved batches
        runs["system"].append(timed(system.sample, samples))
        runs["gpu"].append(timed(gpu.sample, samples))
    gpu.close()
    out = {}
    for name, batch in runs.items():
        out[name] = {
            key: {"min": min(b[key] for b in batch), "median": round(statistics.median(b[key] for b in batch), 4)}
            for key in batch[0]
        }
    return out


def start_load(python: str) -> subprocess.Popen | None:
    child = subprocess.Popen([python, "-c", TORCH_LOAD], stdout=subprocess.PIPE, text=True)
    line = child.stdout.readline() if child.stdout else ""
    if "loaded" not in line:
        child.kill()
        child.wait()
        return None
    time.sleep(2.0)  # let utilisation and power climb
    return child


def measure(samples: int, batches: int, load: str, python: str) -> dict:
    gpu = GpuSampler()
    available, _, reason, fix = gpu.sample()
    gpu.close()
    result: dict = {"gpu_available": available, "reason": reason, "fix": fix, "load": "none"}
    child = None
    if available and load == "torch":
        child = start_load(python)
        result["load"] = "torch matmul on every GPU" if child else f"torch load failed to start with {python}"
    try:
        result["cost"] = cost(samples, batches)
        if available:
            sampler = GpuSampler()
            _, ours, _, _ = sampler.sample()
            smi = nvidia_smi()
            sampler.close()
            result["compare"] = compare(list(ours), smi) if isinstance(smi, list) else smi
    finally:
        if child is not None:
            child.kill()
            child.wait()
    gpu_ms = result["cost"]["gpu"]["wall_ms_median"]["median"]
    result["gpu_sample_under_0_2_ms"] = gpu_ms < 0.2 if available else None
    return result


def show(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--load", choices=("none", "torch"), default="none")
    parser.add_argument("--python", default=sys.executable, help="a Python with torch, for --load torch")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.samples, args.batches, args.load, args.python)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    if not result["gpu_available"]:
        print(f"no NVIDIA GPU: {result['reason']} ({result['fix']}); the no-GPU path is timed")
    print(f"load: {result['load']}; {args.batches} batches of {args.samples} samples (min / median of batches)")
    for name, figures in result["cost"].items():
        cells = ", ".join(f"{k} {v['min']} / {v['median']}" for k, v in figures.items())
        print(f"  {name:7} {cells}")
    compared = result.get("compare")
    if isinstance(compared, str):
        print(compared)
    elif compared:
        print(f"  {'gpu':>3} {'field':22} {'ours':>40} {'nvidia-smi':>40}  agree")
        for row in compared:
            agree = {True: "yes", False: "NO", None: "n/a"}[row["agree"]]
            ours, theirs = show(row["ours"]), show(row["nvidia_smi"])
            print(f"  {row['gpu']:>3} {row['field']:22} {ours:>40} {theirs:>40}  {agree}")
    if result["gpu_sample_under_0_2_ms"] is not None:
        print(f"target GPU sample < 0.2 ms: {'met' if result['gpu_sample_under_0_2_ms'] else 'NOT met'}")


if __name__ == "__main__":
    main()
