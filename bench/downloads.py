"""Download throughput on loopback from nginx: curl, curl + sha256sum, aria2c and aiui-tui, in one run.

Measures (a) curl to a file, (b) curl then sha256sum, (c) `aiui-tui download --sha256` as a whole
process (start-up included), (d) against nginx with `limit_rate` per connection: curl (1 connection),
aria2c -x4 and aiui-tui's segmented download (4 connections), (e) event-loop lag during an in-process
download, (f) bytes fetched twice after a SIGKILL at 50% (from nginx's access log).

Run:  .venv/bin/python bench/downloads.py [--size-mib 1024] [--rate-mib 20] [--json]
Needs nginx, curl, aria2c and sha256sum (as root, missing ones are installed from Debian).
Only 127.0.0.1 is used; only the nginx started here is stopped, by its PID.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
PORT = 18081


def ensure_tools() -> None:
    missing = [
        pkg for tool, pkg in (("nginx", "nginx"), ("aria2c", "aria2"), ("curl", "curl")) if not shutil.which(tool)
    ]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"missing tools; install them: sudo apt-get install -y {' '.join(missing)}")
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True)


def start_nginx(work: Path, rate_mib: int) -> subprocess.Popen:
    conf = work / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 256; }}
http {{
  log_format bytes '$request_uri $status $body_bytes_sent';
  access_log {work}/access.log bytes;
  sendfile on;
  server {{
    listen 127.0.0.1:{PORT};
    root {work}/www;
    location /slow/ {{ alias {work}/www/; limit_rate {rate_mib}m; }}
  }}
}}
""")
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-g", "daemon off;"])
    for _ in range(50):
        if subprocess.run(["curl", "-sf", "-o", "/dev/null", f"http://127.0.0.1:{PORT}/small"]).returncode == 0:
            return proc
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise SystemExit("nginx did not start: " + (work / "error.log").read_text()[-500:])


def timed(cmd: list[str], **kwargs) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - started


def aiui(root: Path, *args: str) -> list[str]:
    return [PY, "-m", "aiui_tui", "--root", str(root), *args]


def aiui_download(root: Path, url: str, sha: str, dest: Path, connections: int) -> list[str]:
    return aiui(root, "download", url, "--sha256", sha, "--dest", str(dest), "--connections", str(connections))


def served_bytes(work: Path, name: str) -> int:
    total = 0
    for line in (work / "access.log").read_text().splitlines():
        uri, _status, sent = line.split()
        if uri.endswith("/" + name):
            total += int(sent)
    return total


async def loop_lag_during_download(root: Path, url: str, dest: Path, sha: str) -> dict:
    sys.path.insert(0, str(REPO))
    from aiui_tui.bus import Bus
    from aiui_tui.config import load_config
    from aiui_tui.core.requests import DownloadRequest
    from aiui_tui.credentials import load_credentials
    from aiui_tui.paths import Layout, ensure_layout
    from aiui_tui.services.downloads import DownloadService

    layout = Layout(root)
    ensure_layout(layout)
    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    service = DownloadService(layout, load_config(layout, env={}), load_credentials(layout, env={}), bus)
    await service.start(run_queue=False)
    lags: list[float] = []
    stop = asyncio.Event()

    async def probe() -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            before = loop.time()
            await asyncio.sleep(0.01)
            lags.append((loop.time() - before - 0.01) * 1000)

    prober = asyncio.create_task(probe())
    started = time.perf_counter()
    item = await service.enqueue(DownloadRequest(url=url, dest_dir=dest, sha256=sha, connections=1))
    await service.run_item(item.id, foreground=True)
    elapsed = time.perf_counter() - started
    stop.set()
    await prober
    await service.close()
    lags.sort()
    return {
        "seconds": elapsed,
        "lag_p50_ms": round(statistics.median(lags), 2),
        "lag_p99_ms": round(lags[int(len(lags) * 0.99) - 1], 2),
        "lag_max_ms": round(lags[-1], 2),
    }


def run(size_mib: int, rate_mib: int) -> dict:
    ensure_tools()
    work = Path(tempfile.mkdtemp(prefix="aiui-bench-dl-"))
    www, out, root = work / "www", work / "out", work / "root"
    www.mkdir()
    out.mkdir()
    size = size_mib * 1024 * 1024
    slow_size = max(64, size_mib // 4) * 1024 * 1024
    big, slow = www / "big.bin", www / "slow.bin"
    for path, length in ((big, size), (slow, slow_size)):
        with open(path, "wb") as fh:
            for _ in range(length // (8 << 20)):
                fh.write(os.urandom(8 << 20))
    (www / "small").write_text("ok")
    for path in (work, www, *www.iterdir()):  # nginx workers run as an unprivileged user
        path.chmod(0o755 if path.is_dir() else 0o644)
    sha = hashlib.sha256(big.read_bytes()).hexdigest()
    slow_sha = hashlib.sha256(slow.read_bytes()).hexdigest()
    subprocess.run(aiui(root, "init", "--yes"), check=True, capture_output=True)
    subprocess.run(
        aiui(root, "config", "set", "downloads.segment_threshold_mib", "32"), check=True, capture_output=True
    )
    nginx = start_nginx(work, rate_mib)
    base = f"http://127.0.0.1:{PORT}"
    mb = 1e6
    try:
        r: dict = {"size_mib": size_mib, "rate_cap_mib_per_conn": rate_mib}
        t = timed(["curl", "-s", "-o", str(out / "a.bin"), f"{base}/big.bin"])
        r["a_curl_MBps"] = size / t / mb
        t = timed(["sh", "-c", f"curl -s -o {out}/b.bin {base}/big.bin && sha256sum {out}/b.bin"])
        r["b_curl_sha256sum_MBps"] = size / t / mb
        t = timed(
            aiui_download(root, f"{base}/big.bin", sha, out / "c", 1),
            cwd=REPO,
        )
        r["c_aiui_MBps"] = size / t / mb
        r["c_over_a"] = r["c_aiui_MBps"] / r["a_curl_MBps"]
        for f in out.glob("*.bin"):
            f.unlink()
        shutil.rmtree(out / "c", ignore_errors=True)

        t = timed(["curl", "-s", "-o", str(out / "d1.bin"), f"{base}/slow/slow.bin"])
        r["d_curl_1conn_MBps"] = slow_size / t / mb
        t = timed(
            [
                "aria2c",
                "-q",
                "-x4",
                "-s4",
                "-k1M",
                "--file-allocation=none",
                "-d",
                str(out),
                "-o",
                "d2.bin",
                f"{base}/slow/slow.bin",
            ]
        )
        r["d_aria2c_x4_MBps"] = slow_size / t / mb
        t = timed(
            aiui_download(root, f"{base}/slow/slow.bin", slow_sha, out / "d3", 4),
            cwd=REPO,
        )
        r["d_aiui_x4_MBps"] = slow_size / t / mb
        cap = 4 * rate_mib * 1024 * 1024 / mb
        r["d_aiui_over_4x_cap"] = r["d_aiui_x4_MBps"] / cap
        r["d_aiui_over_aria2c"] = r["d_aiui_x4_MBps"] / r["d_aria2c_x4_MBps"]
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()

        r["e_loop"] = asyncio.run(loop_lag_during_download(root, f"{base}/big.bin", out / "e", sha))
        shutil.rmtree(out / "e", ignore_errors=True)

        before = served_bytes(work, "slow.bin")
        cmd = aiui_download(root, f"{base}/slow/slow.bin", slow_sha, out / "f", 1)
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def part_size() -> int:  # the queue's hidden part: .slow.bin.<id>.aiui-part
            parts = list((out / "f").glob(".slow.bin.*.aiui-part")) if (out / "f").is_dir() else []
            return parts[0].stat().st_size if parts else 0

        while part_size() < slow_size // 2:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        subprocess.run(cmd, check=True, cwd=REPO, capture_output=True)
        time.sleep(0.3)  # nginx writes the log line when the request ends
        refetched = served_bytes(work, "slow.bin") - before - slow_size
        r["f_refetched_bytes"] = refetched
        r["f_refetched_percent"] = 100 * refetched / slow_size
        return r
    finally:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rate-mib", type=int, default=20, help="nginx limit_rate per connection (MiB/s)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.size_mib, args.rate_mib)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        print(f"{key:28} {value:.3f}" if isinstance(value, float) else f"{key:28} {value}")
    targets = {
        "(c) >= 0.95x curl": result["c_over_a"] >= 0.95,
        "(d) >= 0.95x of 4x cap": result["d_aiui_over_4x_cap"] >= 0.95,
        "(d) >= aria2c": result["d_aiui_over_aria2c"] >= 1.0,
        "(e) loop lag p99 <= 25 ms": result["e_loop"]["lag_p99_ms"] <= 25,
        "(f) re-fetched <= 1%": result["f_refetched_percent"] <= 1.0,
    }
    for name, met in targets.items():
        print(f"{name:28} {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
