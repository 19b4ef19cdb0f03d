"""Dashboard benchmarks in a real pty, each against a peer measured in the same run.

  first-frame   process start to the first frame (the title drawn), aiui-tui vs a bare Textual app
                with a Header and Footer; median of --runs alternating starts.
  idle          CPU of the dashboard over --seconds with --containers stand-in apps running, refresh
                1 s; peer: a bare Textual app updating one widget every second.
  rss           the dashboard's RSS every minute for --seconds (default 600): growth shows a leak.

Run as root with a Docker engine for idle/rss (scripts/test starts one):
  .venv/bin/python bench/tui.py first-frame [--runs 7]
  .venv/bin/python bench/tui.py idle [--seconds 60] [--containers 10]
  .venv/bin/python bench/tui.py rss [--seconds 600] [--containers 10]
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BARE_APP = """
import sys
from textual.app import App
from textual.widgets import Footer, Header, Static

class Bare(App):
    TITLE = "bare-peer"
    def compose(self):
        yield Header()
        self.counter = Static("0")
        yield self.counter
        yield Footer()
    def on_mount(self):
        self.n = 0
        if "--tick" in sys.argv:
            self.set_interval(1.0, self.tick)
    def tick(self):
        self.n += 1
        self.counter.update(str(self.n))

Bare().run()
"""


def spawn(argv: list[str], env: dict[str, str]) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execvpe(argv[0], argv, env)
    os.set_blocking(fd, False)
    # A 120x40 terminal.
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    return pid, fd


def drain(fd: int, until: bytes | None, timeout: float) -> tuple[bytes, float | None]:
    data = b""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            data += chunk
            if until is not None and until in data:
                return data, time.perf_counter()
    return data, None


def stop(pid: int, fd: int) -> None:
    os.kill(pid, signal.SIGTERM)
    drain(fd, None, 0.5)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    os.close(fd)


def env_for(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(TERM="xterm-256color", AIUI_ROOT=str(root), COLUMNS="120", LINES="40")
    return env


def first_frame_once(argv: list[str], marker: bytes, env: dict[str, str]) -> float:
    started = time.perf_counter()
    pid, fd = spawn(argv, env)
    _data, seen = drain(fd, marker, 30)
    stop(pid, fd)
    if seen is None:
        raise RuntimeError(f"{argv} drew no {marker!r} within 30 s")
    return seen - started


def first_frame(runs: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="aiui-bench-tui-"))
    bare = work / "bare.py"
    bare.write_text(BARE_APP)
    root = work / "root"
    subprocess.run(
        [sys.executable, "-m", "aiui_tui", "--root", str(root), "init", "--yes"], check=True, capture_output=True
    )
    env = env_for(root)
    ours, peer = [], []
    for _ in range(runs):
        peer.append(first_frame_once([sys.executable, str(bare)], b"bare-peer", env))
        ours.append(first_frame_once([sys.executable, "-m", "aiui_tui"], b"aiui-tui", env))
    shutil.rmtree(work, ignore_errors=True)
    p, o = statistics.median(peer), statistics.median(ours)
    print(
        f"first frame, median of {runs}: bare Textual app {p * 1000:.0f} ms, "
        f"aiui-tui {o * 1000:.0f} ms = {o / p:.2f}x (target <= 1.2x)"
    )


def start_containers(root: Path, count: int) -> list[str]:
    from aiui_tui.paths import Layout, ensure_layout
    from bench.monitor import write_manifests

    layout = Layout(root)
    ensure_layout(layout)
    names = write_manifests(layout, count)
    for name in names:
        subprocess.run(
            [sys.executable, "-m", "aiui_tui", "--root", str(root), "app", "start", name],
            check=True,
            capture_output=True,
        )
    return names


def remove_containers(root: Path) -> None:
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=aiui.root={root}"], capture_output=True, text=True
    ).stdout.split()
    if out:
        subprocess.run(["docker", "rm", "-f", *out], capture_output=True)


def cpu_of(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def idle(seconds: float, count: int, rss_only: bool = False, screen_key: str = "") -> None:
    import docker
    import psutil

    from tests.conftest import BUSYBOX_IMAGE, build_busybox_context

    work = Path(tempfile.mkdtemp(prefix="aiui-bench-tui-"))
    docker.from_env().images.build(path=str(build_busybox_context(work / "ctx")), tag=BUSYBOX_IMAGE, rm=True)
    root = work / "root"
    subprocess.run(
        [sys.executable, "-m", "aiui_tui", "--root", str(root), "init", "--yes"], check=True, capture_output=True
    )
    bare = work / "bare.py"
    bare.write_text(BARE_APP)
    try:
        start_containers(root, count)
        env = env_for(root)
        if not rss_only:
            pid, fd = spawn([sys.executable, str(bare), "--tick"], env)
            drain(fd, b"bare-peer", 30)
            drain(fd, None, 5)
            before = cpu_of(pid)
            drain(fd, None, seconds)
            peer = (cpu_of(pid) - before) / seconds * 100
            stop(pid, fd)
        pid, fd = spawn([sys.executable, "-m", "aiui_tui"], env)
        drain(fd, b"Dashboard", 30)
        drain(fd, None, 10)  # services settle: engine connected, stats readers attached
        if screen_key:
            os.write(fd, screen_key.encode())  # e.g. "4": the logs screen, the dashboard's ticker paused
            drain(fd, None, 2)
        process = psutil.Process(pid)
        before = cpu_of(pid)
        rss = []
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            drain(fd, None, min(60, seconds))
            rss.append(process.memory_info().rss / 2**20)
        ours = (cpu_of(pid) - before) / (time.perf_counter() - started) * 100
        stop(pid, fd)
        if rss_only:
            print(
                f"RSS every 60 s over {seconds:.0f} s with {count} containers: "
                + ", ".join(f"{r:.0f}" for r in rss)
                + " MiB"
            )
            print(
                f"  first {rss[0]:.1f} MiB, last {rss[-1]:.1f} MiB, growth {rss[-1] - rss[0]:+.1f} MiB "
                "(target < 100 MB, no growth)"
            )
        else:
            print(
                f"idle CPU over {seconds:.0f} s, {count} containers, 1 s refresh: bare Textual app {peer:.2f}%, "
                f"aiui-tui dashboard {ours:.2f}% of one core (target < 1%); RSS {rss[-1]:.0f} MiB"
            )
    finally:
        remove_containers(root)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["first-frame", "idle", "rss"])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--containers", type=int, default=10)
    parser.add_argument("--screen", default="", help="key of the screen to measure on (default: the dashboard)")
    args = parser.parse_args()
    if args.what == "first-frame":
        first_frame(args.runs)
    elif args.what == "idle":
        idle(args.seconds or 60, args.containers, screen_key=args.screen)
    else:
        idle(args.seconds or 600, args.containers, rss_only=True)


if __name__ == "__main__":
    main()
