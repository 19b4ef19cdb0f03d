"""Seeded fuzzing of the files users and downloads hand us (issue 15): app manifests, aiui.toml and
safetensors headers, mutated from real ones. Every document is either accepted or refused with
one line (a typed AiuiError); never a traceback, never "Unexpected error". Bounded: a fixed number
of documents per seed, so the run takes seconds and fails the same way every time.
"""

from __future__ import annotations

import json
import random
import struct
from importlib import resources
from pathlib import Path

import pytest

from aiui_tui.config import load_config
from aiui_tui.core.errors import AiuiError
from aiui_tui.paths import Layout, ensure_layout
from aiui_tui.services.apps.manifest import parse_manifest
from aiui_tui.services.library.validate import check_file
from tests.cli_inprocess import main_cli

SEEDS = range(4)
PER_SEED = 150
FRAGMENTS = [
    "=", '"', "'", "[", "]", "{", "}", ",", "\n", "\r\n", "#", ".", "\\", "\\u0000", "\x00", "\ufeff",
    '"""', "'''", "= 1e400", "= nan", "= -0", "= 99999999999999999999999", "= [[[[[[[[1]]]]]]]]",
    "= {a = {b = {c = 1}}}", '= "/"', '= "../.."', "= true", "= 1979-05-27T07:32:00Z", "\u202e",
    "[mounts]", "[contract]", "[[x]]", "port = 0", 'image = ""', "name = 1", "a.b.c = 1", "🙂",
]  # fmt: skip


def mutate(rng: random.Random, text: str) -> bytes:
    """One to four random edits: insert a fragment, delete a span, duplicate or drop a line, swap
    lines, or put raw bytes (invalid UTF-8) somewhere."""
    lines = text.splitlines(keepends=True)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        i = rng.randrange(len(lines)) if lines else 0
        if op == 0 and lines:
            at = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:at] + rng.choice(FRAGMENTS) + lines[i][at:]
        elif op == 1 and lines:
            at = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:at] + lines[i][at + rng.randint(1, 12) :]
        elif op == 2 and lines:
            lines.insert(i, lines[i])
        elif op == 3 and lines:
            del lines[i]
        elif op == 4 and len(lines) > 1:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines.insert(i, rng.choice(FRAGMENTS) + "\n")
    data = "".join(lines).encode("utf-8", "surrogatepass")
    if rng.random() < 0.1:
        at = rng.randrange(len(data) + 1)
        data = data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 4))) + data[at:]
    return data


def one_line(exc: AiuiError) -> bool:
    return "\n" not in exc.message and "Traceback" not in exc.message


def builtin_manifest_texts() -> list[tuple[str, str]]:
    folder = resources.files("aiui_tui") / "data" / "apps"
    return [(e.name[:-5], e.read_text(encoding="utf-8")) for e in folder.iterdir() if e.name.endswith(".toml")]


@pytest.mark.parametrize("seed", SEEDS)
def test_mutated_manifests_are_accepted_or_refused_in_one_line(seed, tmp_path, conformance):
    rng = random.Random(seed)
    sources = builtin_manifest_texts()
    outcomes = {"accepted": 0, "refused": 0}
    for n in range(PER_SEED):
        name, text = sources[n % len(sources)]
        path = tmp_path / f"{name}.toml"
        path.write_bytes(mutate(rng, text))
        try:
            parse_manifest(path)
            outcomes["accepted"] += 1
        except AiuiError as exc:
            assert one_line(exc), f"seed {seed} #{n}: {exc.message!r}"
            outcomes["refused"] += 1
        # anything else (a traceback) fails the test here, with the seed and number to replay it
    conformance(f"fuzz, manifests (seed {seed}): {PER_SEED} documents, {outcomes}, 0 tracebacks")


@pytest.mark.parametrize("seed", SEEDS)
def test_mutated_settings_files_are_accepted_or_refused_in_one_line(seed, tmp_path, conformance):
    rng = random.Random(1000 + seed)
    default = (resources.files("aiui_tui") / "data" / "aiui.default.toml").read_text(encoding="utf-8")
    layout = Layout(tmp_path / "root")
    ensure_layout(layout)
    outcomes = {"accepted": 0, "refused": 0}
    for n in range(PER_SEED):
        layout.config_file.write_bytes(mutate(rng, default))
        try:
            load_config(layout, env={})
            outcomes["accepted"] += 1
        except AiuiError as exc:
            assert one_line(exc), f"seed {seed} #{n}: {exc.message!r}"
            outcomes["refused"] += 1
    conformance(f"fuzz, aiui.toml (seed {seed}): {PER_SEED} documents, {outcomes}, 0 tracebacks")


def test_mutated_settings_files_through_the_real_command_line(tmp_path):
    """The same kind of documents through `aiui-tui config show` (its `main`, in this process): exit 0
    or 2 and one line, never the catch-all."""
    rng = random.Random(7)
    default = (resources.files("aiui_tui") / "data" / "aiui.default.toml").read_text(encoding="utf-8")
    root = tmp_path / "root"
    ensure_layout(Layout(root))
    for n in range(8):
        (root / "config" / "aiui.toml").write_bytes(mutate(rng, default))
        result = main_cli("--root", str(root), "config", "show")
        assert result.returncode in (0, 2), f"#{n}: {result.output[-500:]}"
        assert "Unexpected error" not in result.output and "Traceback" not in result.output, f"#{n}"


def header_file(path: Path, header: object) -> Path:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 64)
    return path


@pytest.mark.parametrize("seed", SEEDS)
def test_random_safetensors_headers_never_escape_check_file(seed, tmp_path, conformance):
    """Structured junk (random JSON values in every field) and random bytes: check_file answers."""
    rng = random.Random(2000 + seed)
    values = [None, True, -1, 0, 1.5, 2**64, "F16", "x", [], [1, 2], [[1]], {}, {"a": 1}, [0, 64], [64, 0]]
    problems = 0
    for n in range(PER_SEED):
        path = tmp_path / f"{n}.safetensors"
        if rng.random() < 0.2:
            path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randint(0, 80))))
        else:
            tensors = {
                f"t{i}": {key: rng.choice(values) for key in ("dtype", "shape", "data_offsets") if rng.random() < 0.9}
                for i in range(rng.randint(0, 3))
            }
            if rng.random() < 0.3:
                tensors["__metadata__"] = rng.choice(values)
            header_file(path, rng.choice([tensors, rng.choice(values)]))
        check = check_file(path)  # never raises: a bad file is a problem of its own
        problems += not check.ok
        assert check.ok or (check.problem and "\n" not in check.problem)
    conformance(f"fuzz, safetensors headers (seed {seed}): {PER_SEED} files, {problems} refused, 0 tracebacks")
