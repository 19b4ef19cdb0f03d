"""Library benchmarks: scanning 10,000 small model files cold and warm, and sha256 of a large file
against coreutils `sha256sum` in the same run.

    python bench/library.py [--files 10000] [--hash-gib 2] [--dir /var/tmp]

Prints one line per measurement; the hash figure is a ratio to sha256sum (target >= 0.9x).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiui_tui.services.library.hashing import sha256_file
from aiui_tui.services.library.index import LibraryIndex
from aiui_tui.services.library.safetensors import write_safetensors


def bench_scan(base: Path, count: int) -> None:
    folder = base / "models" / "loras"
    folder.mkdir(parents=True)
    for i in range(count):
        write_safetensors(folder / f"m{i:05}.safetensors", {"w": ("F16", [64])}, {"n": str(i)})
    index = LibraryIndex(base / "library.sqlite")
    started = time.perf_counter()
    cold = index.scan({folder: "loras"}, workers=2)
    cold_s = time.perf_counter() - started
    started = time.perf_counter()
    warm = index.scan({folder: "loras"}, workers=2)
    warm_s = time.perf_counter() - started
    assert cold.added == count and warm.added == warm.changed == 0
    print(f"scan {count} files: cold {cold_s:.2f} s (hashes + headers), warm {warm_s:.3f} s (target < 1 s)")
    index.close()


def bench_hash(base: Path, gib: float) -> None:
    path = base / "big.bin"
    chunk = os.urandom(8 << 20)
    with open(path, "wb") as fh:
        for _ in range(int(gib * 1024 / 8)):
            fh.write(chunk)
    size = path.stat().st_size
    subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)  # warm the page cache for both
    runs: dict[str, list[float]] = {"sha256sum": [], "aiui": []}
    openssl = shutil.which("openssl")
    if openssl:
        runs["openssl"] = []
    for _ in range(3):
        started = time.perf_counter()
        ours = sha256_file(path)
        runs["aiui"].append(time.perf_counter() - started)
        started = time.perf_counter()
        out = subprocess.run(["sha256sum", str(path)], check=True, capture_output=True, text=True).stdout
        runs["sha256sum"].append(time.perf_counter() - started)
        assert out.split()[0] == ours
        if openssl:
            started = time.perf_counter()
            subprocess.run([openssl, "dgst", "-sha256", str(path)], check=True, capture_output=True)
            runs["openssl"].append(time.perf_counter() - started)
    best = {k: min(v) for k, v in runs.items()}
    rate = {k: size / v / 1e6 for k, v in best.items()}
    print(
        f"sha256 of {size / 2**30:.1f} GiB (page cache, best of 3): sha256sum {rate['sha256sum']:.0f} MB/s, "
        f"aiui {rate['aiui']:.0f} MB/s = {rate['aiui'] / rate['sha256sum']:.2f}x (target >= 0.9x)"
    )
    if "openssl" in rate:
        print(
            f"  peer openssl dgst -sha256: {rate['openssl']:.0f} MB/s; "
            f"aiui = {rate['aiui'] / rate['openssl']:.2f}x of it"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--hash-gib", type=float, default=2.0)
    parser.add_argument("--dir", default=None, help="where to write the test files (default: a temp dir)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="aiui-bench-", dir=args.dir))
    try:
        bench_scan(base, args.files)
        bench_hash(base, args.hash_gib)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
