"""Plugin costs: `aiui-tui app list --json` with no plugins, with the two examples installed but
disabled (discovery must cost nothing: nothing is imported), and with both enabled; and the time
of the bench harness against `curl` posting the same txt2img request to a local stand-in.

    python bench/plugins.py [--runs 15]

Each figure is the median of --runs runs, given as a ratio to the no-plugin run / curl, measured
in the same run (these machines are noisy).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def timed(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def app_list(root: Path) -> list[str]:
    return [sys.executable, "-m", "aiui_tui", "--root", str(root), "app", "list", "--json"]


def bench_startup(runs: int) -> None:
    """Three roots measured in turn (interleaved, so drift of a noisy machine hits all three alike)."""
    with tempfile.TemporaryDirectory() as tmp:
        roots = {}
        for case in ("none", "disabled", "enabled"):
            root = roots[case] = Path(tmp) / case
            subprocess.run([sys.executable, "-m", "aiui_tui", "--root", str(root), "init", "--yes"], check=True,
                           capture_output=True)  # fmt: skip
            if case == "none":
                continue
            for name in ("forge", "webhook"):
                shutil.copytree(REPO / "plugins" / name, root / "plugins" / name)
                if case == "enabled":
                    settings = root / "config" / "plugins" / f"{name}.toml"
                    settings.write_text("enabled = true\nurl = 'http://127.0.0.1:9/'\n")
                    settings.chmod(0o600)  # as `plugins enable` writes it; others would be refused
        samples: dict[str, list[float]] = {case: [] for case in roots}
        for _ in range(runs):
            for case, root in roots.items():
                samples[case].append(timed(app_list(root), 1))
        base = statistics.median(samples["none"])
        for case, label in (
            ("none", "no plugins"),
            ("disabled", "2 plugins, disabled"),
            ("enabled", "2 plugins, enabled"),
        ):
            median = statistics.median(samples[case])
            print(f"app list, {label + ':':<22} {median * 1000:7.1f} ms  {median / base:.2f}x")


def bench_harness(runs: int) -> None:
    """One A1111 txt2img through `aiui-tui bench`'s client vs curl, against a stand-in that answers at once."""
    import asyncio

    import aiohttp

    from aiui_tui.services.bench.clients import A1111Client
    from tests.bench import stand_ins
    from tests.http_server import serve

    stand_ins.SECONDS_PER_STEP = 0.0
    payload = {"prompt": "x", "steps": 20, "width": 512, "height": 512, "seed": 1}

    async def main() -> None:
        async with serve(stand_ins.a1111_app([])) as base:
            curl = ["curl", "-s", "-o", "/dev/null", "-H", "Content-Type: application/json", "-d", json.dumps(payload),
                    base + "/sdapi/v1/txt2img"]  # fmt: skip
            curl_s = await asyncio.to_thread(timed, curl, runs)
            async with aiohttp.ClientSession() as session:
                client = A1111Client(base, session)
                samples = []
                for _ in range(runs):
                    started = time.perf_counter()
                    await client.generate(512, 512, 20)
                    samples.append(time.perf_counter() - started)
            ours = statistics.median(samples)
            print(f"txt2img request, curl (process per request): {curl_s * 1000:6.2f} ms  1.00x")
            print(f"txt2img request, bench client (session):     {ours * 1000:6.2f} ms  {ours / curl_s:.2f}x")

    asyncio.run(main())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    bench_startup(args.runs)
    bench_harness(args.runs)
