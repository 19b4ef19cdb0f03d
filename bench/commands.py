"""Quick commands against their peer: `python -c "import aiohttp"` (the floor every command that talks
HTTP pays), `aiui-tui --version`, `aiui-tui downloads list --json` and `aiui-tui app list --json` (the
Docker engine up, a data root made with `init --yes` in a temp folder).

    .venv/bin/python bench/commands.py [--runs 9] [--no-compile] [--json]

Runs are interleaved (one of each command per round, so a noisy machine's drift hits all alike);
each figure is the min and the median wall time of --runs (>= 5) rounds, with the median CPU time
(user + system of the child) and the ratio to the aiohttp import in the same run. The commands run
as the installed console script (`.venv/bin/aiui-tui`), after compiling the checkout's bytecode as
`scripts/run` does (`--no-compile` measures whatever bytecode is there). Targets (issue 17):
`--version` and `downloads list --json` <= 1.5x the aiohttp import; `app list --json` <= 0.4 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.5
TARGET_APP_LIST_S = 0.4


def aiui_command() -> list[str]:
    script = Path(sys.executable).parent / "aiui-tui"
    return [str(script)] if script.exists() else [sys.executable, "-m", "aiui_tui"]


def run_once(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, the child's CPU seconds, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="interleaved rounds (>= 5; default 9)")
    parser.add_argument("--no-compile", action="store_true", help="do not compile the bytecode first")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    runs = max(args.runs, 5)
    if not args.no_compile:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "aiui_tui")], check=True,
                       capture_output=True)  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("AIUI_ROOT", "HF_TOKEN", "CIVITAI_API_TOKEN")}
    aiui = aiui_command()
    tmp = Path(tempfile.mkdtemp(prefix="aiui-bench-commands-"))
    try:
        root = tmp / "root"
        run_once([*aiui, "--root", str(root), "init", "--yes"], env)
        commands = {
            "import aiohttp": [sys.executable, "-c", "import aiohttp"],
            "--version": [*aiui, "--version"],
            "downloads list --json": [*aiui, "--root", str(root), "downloads", "list", "--json"],
            "app list --json": [*aiui, "--root", str(root), "app", "list", "--json"],
        }
        engine = json.loads(run_once(commands["app list --json"], env)[2])["engine"]  # also a warm-up
        for cmd in commands.values():
            run_once(cmd, env)  # warm the page cache
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, cmd in commands.items():
                wall, cpu, _out = run_once(cmd, env)
                walls[name].append(wall)
                cpus[name].append(cpu)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    peer_min, peer_median = min(walls["import aiohttp"]), statistics.median(walls["import aiohttp"])
    rows = {}
    for name in commands:
        w = walls[name]
        rows[name] = {
            "min_s": round(min(w), 4),
            "median_s": round(statistics.median(w), 4),
            "cpu_median_s": round(statistics.median(cpus[name]), 4),
            "ratio_min": round(min(w) / peer_min, 3),
            "ratio_median": round(statistics.median(w) / peer_median, 3),
        }
    targets = {
        "--version": rows["--version"]["ratio_median"] <= TARGET_RATIO,
        "downloads list --json": rows["downloads list --json"]["ratio_median"] <= TARGET_RATIO,
        "app list --json": rows["app list --json"]["median_s"] <= TARGET_APP_LIST_S,
    }
    result = {
        "runs": runs,
        "python": sys.version.split()[0],
        "command": " ".join(aiui),
        "bytecode": "as found" if args.no_compile else "compiled first (as scripts/run does)",
        "PYTHONDONTWRITEBYTECODE": env.get("PYTHONDONTWRITEBYTECODE", ""),
        "engine": {"address": engine["address"], "available": engine["available"]},
        "figures": rows,
        "targets_met": targets,
        "samples_s": {name: [round(x, 4) for x in w] for name, w in walls.items()},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{runs} interleaved rounds; {result['command']}; bytecode {result['bytecode']}; "
          f"engine {'up' if engine['available'] else 'DOWN'} at {engine['address']}")  # fmt: skip
    print(f"{'command':<20} {'min s':>7} {'median s':>9} {'cpu s':>7} {'x aiohttp (min/median)':>24}")
    for name, row in rows.items():
        ratio = f"{row['ratio_min']:.2f} / {row['ratio_median']:.2f}"
        print(f"{name:<20} {row['min_s']:>7.3f} {row['median_s']:>9.3f} {row['cpu_median_s']:>7.3f} {ratio:>24}")
    print(
        f"targets: --version <= {TARGET_RATIO}x: {targets['--version']}; downloads list --json <= {TARGET_RATIO}x: "
        f"{targets['downloads list --json']}; app list --json <= {TARGET_APP_LIST_S} s: {targets['app list --json']}"
    )


if __name__ == "__main__":
    main()
