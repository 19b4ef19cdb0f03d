"""Dashboard benchmarks in a real pty, each against a peer measured in the same run, interleaved.

  first-frame   process start to the first frame (the title drawn): aiui-tui (`python -m aiui_tui`, as the
                command runs) vs a bare Textual app with a Header, a Static and a Footer; --runs starts
                of each, alternating; min and median.
  idle          with --containers stand-in apps running: the dashboard vs a bare Textual app updating one
                widget every second, --runs alternating windows of --seconds each (after a settling
                time), each process's CPU (all threads, schedstat ns, % of one core), context switches per second of
                the loop's thread and of all threads, and (with strace) the loop's wake-ups per second
                (epoll_wait calls over --strace-seconds, a separate window: strace slows what it traces);
                min and median; RSS at the end of each window.
  rss           the dashboard's RSS every minute for --seconds (default 600): growth shows a leak.

idle --against DIR (repeatable) adds a contender in the same interleaved windows: the dashboard from
another copy of the package (DIR holds its `aiui_tui/`, e.g. `git archive HEAD~3 aiui_tui | tar -x -C DIR`),
for A/B comparisons of a change while other work shares the machine.

Bytecode of aiui_tui is compiled first (`compileall`), as an installed package has it: with an editable
install and PYTHONDONTWRITEBYTECODE set, every start would compile ~60 modules (--no-compile to measure
that too).

Run as root with a Docker engine for idle/rss (scripts/test starts one):
  .venv/bin/python bench/tui.py first-frame [--runs 9] [--json]
  .venv/bin/python bench/tui.py idle [--runs 5] [--seconds 20] [--containers 10] [--json]
  .venv/bin/python bench/tui.py rss [--seconds 600] [--containers 10] [--json]
"""

from __future__ import annotations

import argparse
import json
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


def compile_bytecode() -> None:
    """What an installed package has: aiui_tui's bytecode (Textual's is compiled at install)."""
    import compileall

    compileall.compile_dir(str(REPO / "aiui_tui"), quiet=1)


def summary(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "runs": len(values)}


def init_root(work: Path) -> Path:
    root = work / "root"
    subprocess.run(
        [sys.executable, "-m", "aiui_tui", "--root", str(root), "init", "--yes"], check=True, capture_output=True
    )
    return root


def first_frame(runs: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="aiui-bench-tui-"))
    bare = work / "bare.py"
    bare.write_text(BARE_APP)
    env = env_for(init_root(work))
    ours, peer = [], []
    try:
        for i in range(runs):  # alternating, and which goes first alternates too
            pair = [("peer", [sys.executable, str(bare)], b"bare-peer"), ("ours", AIUI, b"aiui-tui")]
            for name, argv, marker in pair if i % 2 == 0 else reversed(pair):
                (peer if name == "peer" else ours).append(first_frame_once(argv, marker, env))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    p, o = summary(peer), summary(ours)
    return {
        "bench": "first-frame",
        "unit": "s",
        "bare_textual": p,
        "aiui_tui": o,
        "ratio_median": o["median"] / p["median"],
        "ratio_min": o["min"] / p["min"],
        "target_ratio": 1.2,
    }


def print_first_frame(r: dict) -> None:
    p, o = r["bare_textual"], r["aiui_tui"]
    print(
        f"first frame, {o['runs']} interleaved starts each: bare Textual app min {p['min'] * 1000:.0f} ms, "
        f"median {p['median'] * 1000:.0f} ms; aiui-tui min {o['min'] * 1000:.0f} ms, median "
        f"{o['median'] * 1000:.0f} ms = {r['ratio_min']:.2f}x (min) / {r['ratio_median']:.2f}x (median) "
        "(target <= 1.2x)"
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
    """CPU seconds of every live thread of `pid`, from the scheduler's nanosecond counters
    (/proc/PID/task/*/schedstat): the process's tick-based times move in steps of 10 ms, 0.067 points of
    a core in a 15 s window, as coarse as the differences measured. Threads live as long as the app
    does (the loop, Textual's input and output, the worker pool)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # a thread that just ended
            continue
    return total / 1e9


def switches(pid: int) -> tuple[int, int]:
    """Context switches so far: (the main thread's, which runs the event loop; every live thread's)."""
    main, total = 0, 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                fields = dict(line.split(":", 1) for line in f if "ctxt_switches" in line)
        except FileNotFoundError:  # a worker thread that just ended
            continue
        count = int(fields["voluntary_ctxt_switches"]) + int(fields["nonvoluntary_ctxt_switches"])
        total += count
        if task == str(pid):
            main = count
    return main, total


def loop_wakeups(pid: int, fd: int, seconds: float) -> float | None:
    """epoll_wait calls per second of the loop's thread, counted by strace (None without strace)."""
    if shutil.which("strace") is None or seconds <= 0:
        return None
    trace = subprocess.Popen(
        ["strace", "-c", "-e", "trace=epoll_wait,epoll_pwait", "-p", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    drain(fd, None, seconds)
    trace.send_signal(signal.SIGINT)
    _out, err = trace.communicate(timeout=10)
    calls = 0
    for line in err.splitlines():
        parts = line.split()
        if parts and parts[-1] in ("epoll_wait", "epoll_pwait"):
            calls += int(parts[3])
    return calls / seconds


def measure_window(pid: int, fd: int, seconds: float, strace_seconds: float) -> dict:
    import psutil

    before_cpu, (before_main, before_all) = cpu_of(pid), switches(pid)
    started = time.perf_counter()
    drain(fd, None, seconds)
    elapsed = time.perf_counter() - started
    main, total = switches(pid)
    result = {
        "cpu_percent": (cpu_of(pid) - before_cpu) / elapsed * 100,
        "loop_thread_switches_per_s": (main - before_main) / elapsed,
        "all_threads_switches_per_s": (total - before_all) / elapsed,
        "rss_mib": psutil.Process(pid).memory_info().rss / 2**20,
    }
    wakeups = loop_wakeups(pid, fd, strace_seconds)
    if wakeups is not None:
        result["loop_wakeups_per_s"] = wakeups
    return result


def idle_setup(work: Path, count: int) -> Path:
    import docker

    from tests.conftest import BUSYBOX_IMAGE, build_busybox_context

    docker.from_env().images.build(path=str(build_busybox_context(work / "ctx")), tag=BUSYBOX_IMAGE, rm=True)
    root = init_root(work)
    start_containers(root, count)
    return root


def idle(
    runs: int, seconds: float, count: int, strace_seconds: float, screen_key: str = "", against: list[Path] = ()
) -> dict:
    work = Path(tempfile.mkdtemp(prefix="aiui-bench-tui-"))
    bare = work / "bare.py"
    bare.write_text(BARE_APP)
    root = None
    windows: dict[str, list[dict]] = {"bare_textual": [], "aiui_tui": []}
    trees = {f"against {tree}": tree for tree in against}
    for tree in against:
        import compileall

        compileall.compile_dir(str(tree / "aiui_tui"), quiet=1)
        windows[f"against {tree}"] = []
    try:
        root = idle_setup(work, count)
        env = env_for(root)
        for i in range(runs):
            order = list(windows) if i % 2 == 0 else list(reversed(windows))
            for name in order:
                if name == "bare_textual":
                    pid, fd = spawn([sys.executable, str(bare), "--tick"], env)
                    drain(fd, b"bare-peer", 30)
                    drain(fd, None, 3)
                else:
                    own = env if name == "aiui_tui" else {**env, "PYTHONPATH": str(trees[name])}
                    pid, fd = spawn(AIUI if name == "aiui_tui" else [sys.executable, "-P", *AIUI[1:]], own)
                    drain(fd, b"Dashboard", 30)
                    drain(fd, None, 10)  # services settle: engine connected, container figures flowing
                    if screen_key:
                        os.write(fd, screen_key.encode())  # e.g. "4": the logs screen, the dashboard's tick paused
                        drain(fd, None, 2)
                try:
                    windows[name].append(measure_window(pid, fd, seconds, strace_seconds))
                finally:
                    stop(pid, fd)
    finally:
        if root is not None:
            remove_containers(root)
        shutil.rmtree(work, ignore_errors=True)
    result: dict = {"bench": "idle", "containers": count, "seconds": seconds, "screen": screen_key or "1"}
    result["against"] = [str(tree) for tree in against]
    for name, rows in windows.items():
        result[name] = {key: summary([row[key] for row in rows]) for key in rows[0]}
    result["target_cpu_percent"] = 1.0
    return result


def print_idle(r: dict) -> None:
    p, o = r["bare_textual"], r["aiui_tui"]
    others = [(name, side) for name, side in r.items() if name.startswith("against ")]
    print(
        f"idle, {r['containers']} containers, {o['cpu_percent']['runs']} interleaved windows of "
        f"{r['seconds']:.0f} s (min / median):"
    )
    rows = [
        ("CPU, % of one core", "cpu_percent", "{:.2f}"),
        ("loop thread switches/s", "loop_thread_switches_per_s", "{:.1f}"),
        ("all threads switches/s", "all_threads_switches_per_s", "{:.1f}"),
        ("loop wake-ups/s (strace)", "loop_wakeups_per_s", "{:.1f}"),
        ("RSS, MiB", "rss_mib", "{:.0f}"),
    ]
    for label, key, fmt in rows:
        if key not in o:
            continue
        figures = [f"{fmt.format(side[key]['min'])} / {fmt.format(side[key]['median'])}" for side in (p, o)]
        line = f"  {label:26s} bare Textual app {figures[0]:>15s}   aiui-tui dashboard {figures[1]:>15s}"
        print(line)
        for name, side in others:
            print(f"  {'':26s} {name}: {fmt.format(side[key]['min'])} / {fmt.format(side[key]['median'])}")
    print("  (target: the dashboard < 1% of a core, RSS flat)")


def rss(seconds: float, count: int) -> dict:
    import psutil

    work = Path(tempfile.mkdtemp(prefix="aiui-bench-tui-"))
    root = None
    samples = []
    try:
        root = idle_setup(work, count)
        pid, fd = spawn(AIUI, env_for(root))
        drain(fd, b"Dashboard", 30)
        drain(fd, None, 10)
        process = psutil.Process(pid)
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            drain(fd, None, min(60, seconds))
            samples.append(process.memory_info().rss / 2**20)
        stop(pid, fd)
    finally:
        if root is not None:
            remove_containers(root)
        shutil.rmtree(work, ignore_errors=True)
    return {"bench": "rss", "containers": count, "seconds": seconds, "rss_mib_every_60_s": samples,
            "growth_mib": samples[-1] - samples[0]}  # fmt: skip


def print_rss(r: dict) -> None:
    samples = r["rss_mib_every_60_s"]
    print(
        f"RSS every 60 s over {r['seconds']:.0f} s with {r['containers']} containers: "
        + ", ".join(f"{x:.0f}" for x in samples)
        + f" MiB; growth {r['growth_mib']:+.1f} MiB (target < 100 MB, no growth)"
    )


AIUI = [sys.executable, "-m", "aiui_tui"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["first-frame", "idle", "rss"])
    parser.add_argument("--runs", type=int, default=None, help="first-frame: 9 starts each; idle: 5 windows each")
    parser.add_argument("--seconds", type=float, default=None, help="idle: 20 per window; rss: 600")
    parser.add_argument("--containers", type=int, default=10)
    parser.add_argument("--strace-seconds", type=float, default=5.0, help="idle: window for counting wake-ups")
    parser.add_argument("--screen", default="", help="key of the screen to measure on (default: the dashboard)")
    parser.add_argument("--no-compile", action="store_true", help="leave aiui_tui's bytecode as it is")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout instead of text")
    parser.add_argument(
        "--against", type=Path, action="append", default=[], help="idle: also the package in DIR/aiui_tui (A/B)"
    )
    args = parser.parse_args()
    if not args.no_compile:
        compile_bytecode()
    if args.what == "first-frame":
        result = first_frame(args.runs or 9)
        show = print_first_frame
    elif args.what == "idle":
        result = idle(
            args.runs or 5, args.seconds or 20, args.containers, args.strace_seconds, args.screen, args.against
        )
        show = print_idle
    else:
        result = rss(args.seconds or 600, args.containers)
        show = print_rss
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        show(result)


if __name__ == "__main__":
    main()
