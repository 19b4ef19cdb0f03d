"""Download throughput on loopback from nginx: aiui-tui against curl, wget, aria2c and a bare client, in one run.

Single connection, a file of --size-mib from nginx, every peer once per round, rounds interleaved
(the order rotates), --runs rounds; each peer's throughput is divided by `curl -o`'s of the same
round, so the ratios hold on a noisy machine:
  curl -o FILE (the reference), curl + sha256sum after it, `curl | tee FILE | sha256sum`, wget,
  aria2c -x1 (none of these but the sha256sum ones verify anything), curl, wget and aria2c -x1 each
  followed by `sync FILE` (durable, as a verified download is before its rename: coreutils' `sync
  FILE` is an fsync of that file), `aiui-tui download --sha256` as
  a whole process (start-up included), the same download in-process (DownloadService run directly
  in this process, the event-loop lag sampled every 10 ms meanwhile), and a bare aiohttp + hashlib
  client in this process (the floor for an asyncio client that writes, hashes and fsyncs).
`disk_write_fdatasync_MBps` is the disk's own pace (a verified download fsyncs before its rename;
the others do not, so a disk slower than loopback shows in aiui-tui's figures only).
CPU seconds per GiB are user+sys of the child (or of this process for the in-process runs);
`curl_plus_hashlib` is curl -o's CPU plus sha256 of the same bytes in memory (hashlib alone).
Segmented: nginx caps each connection (limit_rate, --rate-mib); aria2c -x4 against aiui-tui -x4,
quiet and, with --load, again with the CPU saturated by two busy-loop processes (started and
stopped by PID). nginx allows each request up to a second of its rate at once, so a client that
asks for many pieces (aiui-tui: 8 MiB ones) can pass the cap somewhat; aria2c asks for 4.
Then bytes fetched twice after a SIGKILL of aiui-tui at 50% (nginx's access log), --kill-runs times.
--only picks sections (single, segmented, kill) for development runs.
Every figure: min and median over the rounds. The measured package's bytecode is compiled first, as
an install compiles it (a checkout with PYTHONDONTWRITEBYTECODE set would recompile stale modules at
every start).

Run:  .venv/bin/python bench/downloads.py [--size-mib 1024] [--rate-mib 20] [--runs 5] [--load] [--json]
Development:  .venv/bin/python bench/downloads.py --size-mib 256 --runs 5 --load
              .venv/bin/python bench/downloads.py --size-mib 256 --only kill --kill-runs 5 [--src DIR]
Needs nginx, curl, wget, aria2c and sha256sum (as root, missing ones are installed from Debian).
Only 127.0.0.1 is used; only the processes started here are stopped, by their PID.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
PORT = 18081
GIB = 1024**3
MB = 1e6


def ensure_tools() -> None:
    tools = (("nginx", "nginx"), ("aria2c", "aria2"), ("curl", "curl"), ("wget", "wget"))
    missing = [pkg for tool, pkg in tools if not shutil.which(tool)]
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
    # A session of its own: on failure the whole group goes, workers too (killing the master alone
    # with SIGKILL leaves its worker holding the port and our stdout).
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-g", "daemon off;"], start_new_session=True)
    for _ in range(50):
        if subprocess.run(["curl", "-sf", "-o", "/dev/null", f"http://127.0.0.1:{PORT}/small"]).returncode == 0:
            return proc
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    raise SystemExit("nginx did not start: " + (work / "error.log").read_text()[-500:])


class Usage:
    """CPU seconds (user+sys) and minor page faults between `start` and `stop`, of this process
    (`who=RUSAGE_SELF`, every thread) or of the children reaped meanwhile (`RUSAGE_CHILDREN`)."""

    def __init__(self, who: int) -> None:
        self.who = who

    def __enter__(self) -> Usage:
        self._before = resource.getrusage(self.who)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
        after = resource.getrusage(self.who)
        self.cpu = (after.ru_utime - self._before.ru_utime) + (after.ru_stime - self._before.ru_stime)
        self.minflt = after.ru_minflt - self._before.ru_minflt


def run_child(cmd: list[str] | str, **kwargs) -> Usage:
    with Usage(resource.RUSAGE_CHILDREN) as usage:
        subprocess.run(
            cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, shell=isinstance(cmd, str), **kwargs
        )
    return usage


def aiui(root: Path, *args: str) -> list[str]:
    return [PY, "-m", "aiui_tui", "--root", str(root), *args]


def aiui_download(root: Path, url: str, sha: str, dest: Path, connections: int) -> list[str]:
    return aiui(root, "download", url, "--sha256", sha, "--dest", str(dest), "--connections", str(connections))


def aria2c_x1(dest: Path, url: str) -> list[str]:
    return ["aria2c", "-q", "-x1", "-s1", "--file-allocation=none", "-d", str(dest), "-o", "big.bin", url]


def served_bytes(work: Path, name: str) -> int:
    total = 0
    for line in (work / "access.log").read_text().splitlines():
        uri, _status, sent = line.split()
        if uri.endswith("/" + name):
            total += int(sent)
    return total


# -- in this process -----------------------------------------------------------------------------


class InProcess:
    """A DownloadService in this process, started once (imports and set-up are not measured)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.loop = asyncio.new_event_loop()
        self.service = self.loop.run_until_complete(self._start())

    async def _start(self):
        sys.path.insert(0, str(REPO))
        from aiui_tui.bus import Bus
        from aiui_tui.config import load_config
        from aiui_tui.credentials import load_credentials
        from aiui_tui.paths import Layout, ensure_layout
        from aiui_tui.services.downloads import DownloadService

        layout = Layout(self.root)
        ensure_layout(layout)
        bus = Bus()
        bus.bind_loop(asyncio.get_running_loop())
        service = DownloadService(layout, load_config(layout, env={}), load_credentials(layout, env={}), bus)
        await service.start(run_queue=False)
        import aiui_tui.services.downloads.transfer  # noqa: F401  (imports are not what is measured)

        await service.session()
        return service

    def download(self, url: str, dest: Path, sha: str, connections: int) -> tuple[Usage, dict]:
        from aiui_tui.core.requests import DownloadRequest

        async def go() -> dict:
            lags: list[float] = []
            stop = asyncio.Event()

            async def probe() -> None:
                loop = asyncio.get_running_loop()
                while not stop.is_set():
                    before = loop.time()
                    await asyncio.sleep(0.01)
                    lags.append((loop.time() - before - 0.01) * 1000)

            prober = asyncio.create_task(probe())
            item = await self.service.enqueue(
                DownloadRequest(url=url, dest_dir=dest, sha256=sha, connections=connections)
            )
            await self.service.run_item(item.id, foreground=True)
            stop.set()
            await prober
            lags.sort()
            return {
                "lag_p50_ms": statistics.median(lags),
                "lag_p99_ms": lags[max(0, int(len(lags) * 0.99) - 1)],
                "lag_max_ms": lags[-1],
            }

        with Usage(resource.RUSAGE_SELF) as usage:
            lag = self.loop.run_until_complete(go())
        if not any(dest.iterdir()):
            raise SystemExit(f"in-process download of {url} left nothing in {dest}")
        return usage, lag

    def bare(self, url: str, path: Path) -> tuple[Usage, str]:
        """aiohttp + hashlib, nothing else: read aiohttp's chunks, write each, hash each, on the loop."""
        import aiohttp

        async def go() -> str:
            sha = hashlib.sha256()
            async with (
                aiohttp.ClientSession(auto_decompress=False, read_bufsize=4 << 20) as session,
                session.get(url) as response,
            ):
                with open(path, "wb") as fh:
                    async for chunk in response.content.iter_any():
                        fh.write(chunk)
                        sha.update(chunk)
                    os.fsync(fh.fileno())
            return sha.hexdigest()

        with Usage(resource.RUSAGE_SELF) as usage:
            digest = self.loop.run_until_complete(go())
        return usage, digest

    def close(self) -> None:
        self.loop.run_until_complete(self.service.close())
        self.loop.close()


def disk_write_MBps(folder: Path, size: int) -> float:
    """The disk's own pace: `size` bytes written and fdatasync'ed. A verified download fsyncs before its
    rename (curl, wget and aria2c do not), so a disk slower than loopback shows in the commit."""
    block = os.urandom(8 << 20)
    path = folder / "disk-probe.bin"
    started = time.perf_counter()
    with open(path, "wb") as fh:
        for _ in range(size // len(block)):
            fh.write(block)
        os.fdatasync(fh.fileno())
    elapsed = time.perf_counter() - started
    path.unlink()
    return size / elapsed / MB


def hashlib_alone_cpu(size: int) -> float:
    """CPU seconds of sha256 over `size` bytes already in memory (hashlib's own cost)."""
    block = os.urandom(8 << 20)
    sha = hashlib.sha256()
    with Usage(resource.RUSAGE_SELF) as usage:
        for _ in range(size // len(block)):
            sha.update(block)
    return usage.cpu


# -- statistics ----------------------------------------------------------------------------------


def summary(values: list[float], digits: int = 3) -> dict:
    return {"min": round(min(values), digits), "median": round(statistics.median(values), digits)}


def rounds(
    peers: dict[str, Callable[[], Usage]],
    runs: int,
    size: int,
    *references: str,
    compare: dict[str, tuple[str, ...]] | None = None,
) -> dict:
    """Run every peer once per round, `runs` rounds, the order rotating; per peer: MB/s, the ratio
    to each of `references` in the same round, CPU s/GiB and minor faults per GiB (min and median).
    `compare`: more references for some peers only (peer -> names)."""
    names = list(peers)
    samples: dict[str, list[Usage]] = {name: [] for name in names}
    for i in range(runs):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            samples[name].append(peers[name]())
    result: dict = {}
    for name in names:
        usages = samples[name]
        entry = {
            "MBps": summary([size / u.seconds / MB for u in usages], 1),
            "cpu_s_per_GiB": summary([u.cpu * GIB / size for u in usages]),
            "minflt_per_GiB": summary([u.minflt * GIB / size for u in usages], 0),
        }
        for reference in (*references, *(compare or {}).get(name, ())):
            ratios = [r.seconds / u.seconds for u, r in zip(usages, samples[reference], strict=True)]
            entry[f"over_{reference}"] = summary(ratios)
        extra = [u.extra for u in usages if hasattr(u, "extra")]
        for key in extra[0] if extra else ():
            entry[key] = summary([e[key] for e in extra], 2)
        result[name] = entry
    return result


class Busy:
    """Two busy-loop processes that saturate the CPU; stopped by their PIDs."""

    def __enter__(self) -> Busy:
        self.procs = [subprocess.Popen([PY, "-c", "while True: pass"]) for _ in range(2)]
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def single_figures(r: dict, single: dict, size: int, out: Path) -> None:
    """The single-connection section with the CPU and disk references beside it."""
    r["single"] = single
    hashlib_cpu = hashlib_alone_cpu(size) * GIB / size
    curl_cpu = single["curl"]["cpu_s_per_GiB"]["median"]
    r["hashlib_alone_cpu_s_per_GiB"] = round(hashlib_cpu, 3)
    r["disk_write_fdatasync_MBps"] = round(disk_write_MBps(out, size), 1)
    r["curl_plus_hashlib_cpu_s_per_GiB"] = round(curl_cpu + hashlib_cpu, 3)
    for name in ("aiui_process", "aiui_in_process"):
        single[name]["cpu_over_curl_plus_hashlib"] = round(
            single[name]["cpu_s_per_GiB"]["median"] / (curl_cpu + hashlib_cpu), 3
        )


def kill_at_half(work: Path, root: Path, url: str, sha: str, size: int, dest: Path) -> int:
    """Bytes nginx sent twice when `aiui-tui download` (one connection) is killed (SIGKILL) once its
    part holds half the file, then run again to the end."""
    name = url.rsplit("/", 1)[1]
    before = served_bytes(work, name)
    cmd = aiui_download(root, url, sha, dest, 1)
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def part_size() -> int:  # the queue's hidden part: .NAME.<id>.aiui-part
        parts = list(dest.glob(f".{name}.*.aiui-part")) if dest.is_dir() else []
        return parts[0].stat().st_size if parts else 0

    while part_size() < size // 2:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True)
    time.sleep(0.3)  # nginx writes the log line when the request ends
    return served_bytes(work, name) - before - size


# -- the run -------------------------------------------------------------------------------------


def run(size_mib: int, rate_mib: int, runs: int, load: bool, only: set[str], kill_runs: int) -> dict:
    ensure_tools()
    # Bytecode as an install has it: with PYTHONDONTWRITEBYTECODE set, a checkout's stale or missing .pyc
    # files would be compiled again at every start of `aiui-tui download` (~0.1 s for a fresh copy).
    subprocess.run([PY, "-m", "compileall", "-q", str(REPO / "aiui_tui")], check=True, stdout=subprocess.DEVNULL)
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
    url, slow_url = f"{base}/big.bin", f"{base}/slow/slow.bin"
    inproc = InProcess(work / "root-in-process")  # its own queue: the CLI's runs use `root`
    counter = iter(range(1_000_000))

    def fresh() -> Path:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        return out / f"d{next(counter)}"

    def child(cmd: Callable[[Path], list[str] | str]) -> Callable[[], Usage]:
        def go() -> Usage:
            dest = fresh()
            dest.mkdir()
            return run_child(cmd(dest), cwd=REPO)

        return go

    def in_process(target_url: str, target_sha: str, connections: int) -> Callable[[], Usage]:
        def go() -> Usage:
            usage, lag = inproc.download(target_url, fresh(), target_sha, connections)
            usage.extra = lag
            return usage

        return go

    def bare() -> Usage:
        dest = fresh()
        dest.mkdir()
        usage, digest = inproc.bare(url, dest / "big.bin")
        if digest != sha:
            raise SystemExit("the bare client got another sha256")
        return usage

    try:
        r: dict = {"size_mib": size_mib, "rate_cap_mib_per_conn": rate_mib, "runs": runs, "cpus": os.cpu_count()}
        single = {
            "curl": child(lambda d: ["curl", "-s", "-o", str(d / "big.bin"), url]),
            # curl, then the file made durable (coreutils' `sync FILE` is an fsync), as a verified download
            # is before its rename: the reference when the disk is slower than loopback.
            "curl_then_sync": child(lambda d: f"curl -s -o {d}/big.bin {url} && sync {d}/big.bin"),
            "curl_then_sha256sum": child(lambda d: f"curl -s -o {d}/big.bin {url} && sha256sum {d}/big.bin"),
            "curl_tee_sha256sum": child(lambda d: f"curl -s {url} | tee {d}/big.bin | sha256sum"),
            "wget": child(lambda d: ["wget", "-q", "-O", str(d / "big.bin"), url]),
            "wget_then_sync": child(lambda d: f"wget -q -O {d}/big.bin {url} && sync {d}/big.bin"),
            "aria2c_x1": child(lambda d: aria2c_x1(d, url)),
            "aria2c_x1_then_sync": child(lambda d: f"{shlex.join(aria2c_x1(d, url))} && sync {d}/big.bin"),
            "aiui_process": child(lambda d: aiui_download(root, url, sha, d, 1)),
            "aiui_in_process": in_process(url, sha, 1),
            "bare_aiohttp_hashlib": bare,
        }
        if "single" in only:
            # aiui-tui against every peer in the same rounds, the durable ones (`&& sync FILE`) too
            peers = ("wget", "wget_then_sync", "aria2c_x1", "aria2c_x1_then_sync", "curl_tee_sha256sum")
            compare = {"aiui_process": peers, "aiui_in_process": peers}
            single_figures(r, rounds(single, runs, size, "curl", "curl_then_sync", compare=compare), size, out)
        cap = 4 * rate_mib * 1024 * 1024
        segmented = {
            "aria2c_x4": child(
                lambda d: [
                    *("aria2c", "-q", "-x4", "-s4", "-k1M", "--file-allocation=none"),
                    *("-d", str(d), "-o", "slow.bin", slow_url),
                ]
            ),
            "aiui_x4_process": child(lambda d: aiui_download(root, slow_url, slow_sha, d, 4)),
            "aiui_x4_in_process": in_process(slow_url, slow_sha, 4),
        }

        def segmented_rounds() -> dict:
            result = rounds(segmented, runs, slow_size, "aria2c_x4")
            for entry in result.values():
                entry["over_4x_cap"] = round(entry["MBps"]["median"] * MB / cap, 3)
            return result

        if "segmented" in only:
            r["segmented_quiet"] = segmented_rounds()
        if load and "segmented" in only:
            with Busy():
                r["segmented_load"] = segmented_rounds()

        if "kill" in only:
            refetched = [kill_at_half(work, root, slow_url, slow_sha, slow_size, fresh()) for _ in range(kill_runs)]
            r["kill_at_50_refetched_bytes"] = summary(refetched, 0)
            r["kill_at_50_refetched_percent"] = summary([100 * b / slow_size for b in refetched])
        return r
    finally:
        inproc.close()
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def targets(r: dict) -> dict[str, bool]:
    found: dict[str, bool] = {}
    if "single" in r:
        single = r["single"]
        med = {name: entry["MBps"]["median"] for name, entry in single.items()}
        found |= {
            "in-process >= 0.9x curl (median)": single["aiui_in_process"]["over_curl"]["median"] >= 0.9,
            "process > wget, aria2c -x1, curl|tee|sha256sum (median)": med["aiui_process"]
            > max(med["wget"], med["aria2c_x1"], med["curl_tee_sha256sum"]),
            "CPU/GiB <= 1.3x curl + hashlib (in-process)": single["aiui_in_process"]["cpu_over_curl_plus_hashlib"]
            <= 1.3,
            "event-loop lag p99 <= 25 ms": single["aiui_in_process"]["lag_p99_ms"]["median"] <= 25,
        }
    if "segmented_quiet" in r:
        found["segmented quiet >= aria2c -x4"] = (
            r["segmented_quiet"]["aiui_x4_process"]["over_aria2c_x4"]["median"] >= 1.0
        )
    if "kill_at_50_refetched_percent" in r:
        found["SIGKILL at 50%: re-fetched <= 1% (median)"] = r["kill_at_50_refetched_percent"]["median"] <= 1.0
    if "segmented_load" in r:
        found["segmented under load >= aria2c -x4"] = (
            r["segmented_load"]["aiui_x4_process"]["over_aria2c_x4"]["median"] >= 1.0
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rate-mib", type=int, default=20, help="nginx limit_rate per connection (MiB/s)")
    parser.add_argument("--runs", type=int, default=5, help="interleaved rounds (min and median over them)")
    parser.add_argument("--load", action="store_true", help="also run the segmented case with two busy loops")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", default="single,segmented,kill", help="comma-separated sections to run (development)")
    parser.add_argument("--kill-runs", type=int, default=3, help="SIGKILL-at-50%% trials (min and median)")
    parser.add_argument("--src", type=Path, help="the aiui_tui package's parent folder to measure (A/B runs)")
    args = parser.parse_args()
    if args.src:
        global REPO
        REPO = args.src.resolve()
    if args.size_mib < 8 or args.size_mib % 8 or args.runs < 1:
        parser.error("--size-mib must be a multiple of 8 (at least 8), --runs at least 1")
    only = set(args.only.split(","))
    if not only <= {"single", "segmented", "kill"} or args.kill_runs < 1:
        parser.error("--only takes single, segmented and kill; --kill-runs at least 1")
    result = run(args.size_mib, args.rate_mib, args.runs, args.load, only, args.kill_runs)
    result["targets"] = targets(result)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for section in ("single", "segmented_quiet", "segmented_load"):
        if section not in result:
            continue
        print(f"== {section} (min / median of {args.runs})")
        for name, entry in result[section].items():
            cells = [f"{k} {v['min']}/{v['median']}" if isinstance(v, dict) else f"{k} {v}" for k, v in entry.items()]
            print(f"  {name:22} " + "  ".join(cells))
    for key, value in result.items():
        if not isinstance(value, dict):
            print(f"{key:36} {value}")
        elif key.startswith("kill_"):
            print(f"{key:36} {value['min']}/{value['median']} (min/median of {args.kill_runs})")
    for name, met in result["targets"].items():
        print(f"{name:58} {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
