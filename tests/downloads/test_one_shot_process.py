"""`aiui-tui download` as its own process: plain lines without rich when stderr is not a terminal, and
the process ends without the interpreter's teardown once everything is closed (same output, same code)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.downloads.conftest import payload

MiB = 1024 * 1024

# Runs the command as the program does (`main()` reading sys.argv), with a spy that reports, at the
# interpreter's teardown, whether rich was ever imported: the spy's line is missing when the process
# ended at once (os._exit).
PROGRAM = """
import atexit, sys
def spy():
    print("TEARDOWN rich=" + str(any(m.split(".")[0] == "rich" for m in sys.modules)), file=sys.stderr)
atexit.register(spy)
from aiui_tui.cli.main import main
sys.argv = ["aiui-tui", *sys.argv[1:]]
raise SystemExit(main())
"""
# The same command through `main(argv)`, as tests and embedders call it: never ended at once.
CALLER = PROGRAM.replace("main()", "main(sys.argv[1:])")


def env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "AIUI_ROOT")}
    return clean | extra


async def run(code: str, root: Path, *args: str, **extra: str) -> tuple[int, str, list[str]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, "--root", str(root), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env(**extra), cwd=REPO,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode().splitlines()


async def test_stderr_not_a_terminal_gets_plain_lines_and_rich_is_never_imported(server, root, tmp_path):
    data = payload(MiB)
    url = server.add("p.bin", data)
    args = ("download", url, "--sha256", hashlib.sha256(data).hexdigest(), "--dest", str(tmp_path))
    code, out, err = await run(CALLER, root, *args)
    assert code == 0, err
    assert out == f"{tmp_path / 'p.bin'}\n"
    assert err == [
        "p.bin 1.0 MiB/1.0 MiB",
        f"Saved {tmp_path / 'p.bin'} (1.0 MiB, sha256 verified).",
        "TEARDOWN rich=False",
    ]

    (tmp_path / "p.bin").unlink()
    code, out, err = await run(CALLER, root, *args, FORCE_COLOR="1")  # rich's own switch: the bars again
    assert code == 0, err
    assert err[-1] == "TEARDOWN rich=True"
    assert any("Saved" in line and "sha256 verified" in line for line in err)


async def test_a_finished_download_ends_the_process_at_once_with_its_output_and_code(server, root, tmp_path):
    data = payload(MiB, seed=2)
    url = server.add("q.bin", data)
    args = ("download", url, "--sha256", hashlib.sha256(data).hexdigest(), "--dest", str(tmp_path), "--json")
    code, out, err = await run(PROGRAM, root, *args)
    assert code == 0, err
    item = json.loads(out)["item"]  # all of stdout, flushed
    assert (item["state"], item["done_bytes"], item["dest_dir"]) == ("done", MiB, str(tmp_path))
    assert err == ["q.bin 1.0 MiB/1.0 MiB", f"Saved {tmp_path / 'q.bin'} (1.0 MiB, sha256 verified)."]
    assert (tmp_path / "q.bin").read_bytes() == data
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no part, no sidecar left

    # A failure takes the ordinary way out: same one line, same exit code, teardown included.
    code, out, err = await run(PROGRAM, root, "download", url, "--sha256", "0" * 64, "--dest", str(tmp_path / "d"))
    assert code == 1 and out == ""
    assert any(line.startswith("Error: Checksum mismatch for q.bin") for line in err), err
    assert err[-1] == "TEARDOWN rich=True"
