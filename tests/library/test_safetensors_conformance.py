"""Our safetensors header check gives the real library's verdict: each malformed file below (and a few
hundred random mutations of valid ones) is opened by `safetensors.safe_open` and by `read_header`;
both accept it or both refuse it, and ours refuses with a one-line reason, never another exception."""

from __future__ import annotations

import json
import random
import struct

import numpy as np
import pytest
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from aiui_tui.services.library.safetensors import MAX_HEADER, SafetensorsError, read_header
from aiui_tui.services.library.validate import check_file

F32_2 = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'


def real_verdict(path) -> str | None:
    """None when the real library opens the file, else its error."""
    try:
        with safe_open(str(path), framework="numpy") as f:
            f.keys()
    except (SafetensorError, OSError) as exc:
        return str(exc) or exc.__class__.__name__
    return None


def our_verdict(path) -> str | None:
    """None when read_header accepts the file, else its reason; any other exception fails the test."""
    try:
        read_header(path)
    except SafetensorsError as exc:
        reason = str(exc)
        assert reason and "\n" not in reason, repr(reason)
        return reason
    return None


def write(path, header: str | bytes, data: int | bytes = 0, length: int | None = None):
    raw = header.encode() if isinstance(header, str) else header
    body = bytes(data) if isinstance(data, int) else data
    path.write_bytes(struct.pack("<Q", len(raw) if length is None else length) + raw + body)
    return path


def tensor(shape="[2]", offsets="[0,8]", dtype='"F32"', extra="") -> str:
    return f'{{"a":{{"dtype":{dtype},"shape":{shape},"data_offsets":{offsets}{extra}}}}}'


REFUSED = {
    "shape null": (tensor(shape="null"), 8),
    "shape a string": (tensor(shape='"2"'), 8),
    "shape an int": (tensor(shape="2"), 8),
    "shape NaN": (tensor(shape="NaN"), 8),
    "shape [NaN]": (tensor(shape="[NaN]"), 8),
    "shape an object": (tensor(shape='{"0":2}'), 8),
    "shape of floats": (tensor(shape="[2.0]"), 8),
    "shape of bools": (tensor(shape="[true, true]", offsets="[0,4]"), 4),
    "shape negative": (tensor(shape="[-2]"), 8),
    "shape -0": (tensor(shape="[-0]", offsets="[0,0]"), 0),
    "shape of 2**64": (tensor(shape="[18446744073709551616]"), 8),
    "shape product overflows": (tensor(shape="[4294967296,4294967296]", offsets="[0,0]"), 0),
    "shape bytes overflow": (tensor(shape="[4611686018427387904]", offsets="[0,0]"), 0),
    "offsets strings": (tensor(offsets='["0","8"]'), 8),
    "offset 1e400": (tensor(offsets="[0,1e400]"), 8),
    "offsets three": (tensor(offsets="[0,8,8]"), 8),
    "offsets null": (tensor(offsets="null"), 8),
    "offsets reversed": (tensor(shape="[0]", offsets="[8,0]"), 8),
    "1e400 in an ignored field": (tensor(extra=',"x":1e400'), 8),
    "dtype unknown": (tensor(dtype='"F128"'), 8),
    "dtype lower case": (tensor(dtype='"f32"'), 8),
    "dtype null": (tensor(dtype="null"), 8),
    "dtype given twice": ('{"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 8),
    "F4 not ending on a byte": (tensor(dtype='"F4"', shape="[3]", offsets="[0,1]"), 1),
    "metadata value an int": ('{"__metadata__":{"steps":1000}}', 0),
    "metadata value null": ('{"__metadata__":{"note":null}}', 0),
    "metadata an array": ('{"__metadata__":["a"]}', 0),
    "metadata twice": ('{"__metadata__":{},"__metadata__":{}}', 0),
    "tensor null": ('{"a":null}', 0),
    "tensor an array of two": ('{"a":["F32",[2]]}', 8),
    "overlapping offsets": (
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
        12,
    ),
    "gap between tensors": (
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
        12,
    ),
    "size not matching shape": (tensor(shape="[3]"), 8),
    "truncated data": (F32_2, 5),
    "data after the last tensor": (F32_2, 16),
    "NaN literal": (tensor(extra=',"x":NaN'), 8),
    "lone surrogate": ('{"__metadata__":{"x":"\\ud800"}}', 0),
    "trailing garbage": (F32_2 + "x", 8),
    "top level an array": ("[]", 0),
    "empty header": ("", 0),
    "a tensor repeated, the first invalid": ('{"a":null,' + F32_2[1:], 8),
    "a metadata key repeated, the first not a string": ('{"__metadata__":{"x":1,"x":"y"}}', 0),
    "an ignored field repeated, the first nested too deep": (
        tensor(extra=',"x":' + "[" * 126 + "]" * 126 + ',"x":0'),
        8,
    ),
    "a lone surrogate in a shadowed value": ('{"__metadata__":{"x":"\\udc00","x":"y"}}', 0),
    "nested 128 deep": (tensor(shape="[0]", offsets="[0,0]", extra=',"x":' + "[" * 126 + "]" * 126), 0),
    "nested 10,000 deep": ("[" * 10_000 + "]" * 10_000, 0),
    "nested 10,000 deep inside a tensor": (tensor(extra=',"x":' + "[" * 10_000 + "]" * 10_000), 8),
}
ACCEPTED = {
    "plain": (F32_2, 8),
    "no tensors": ("{}", 0),
    "metadata null": ('{"__metadata__":null}', 0),
    "scalar": (tensor(shape="[]", offsets="[0,4]"), 4),
    "zero-sized with a huge dim": (tensor(shape="[0,18446744073709551615]", offsets="[0,0]"), 0),
    "tensor as an array": ('{"a":["F32",[2],[0,8]]}', 8),
    "dtype as an object": (tensor(dtype='{"F32":null}'), 8),
    "every newer dtype": (
        '{"a":{"dtype":"F8_E8M0","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"F4","shape":[2],"data_offsets":[1,2]},'
        '"c":{"dtype":"F6_E2M3","shape":[4],"data_offsets":[2,5]},"d":{"dtype":"C64","shape":[1],"data_offsets":[5,13]}}',
        13,
    ),
    "same tensor twice, the last wins": (
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
        8,
    ),
    "extra fields ignored": (tensor(extra=',"x":[1,{"y":null,"y":-0}],"z":1e-400'), 8),
    "nested 127 deep": (tensor(shape="[0]", offsets="[0,0]", extra=',"x":' + "[" * 125 + "]" * 125), 0),
    "surrogate pair": ('{"__metadata__":{"x":"\\ud83d\\ude00"}}', 0),
    "whitespace around": (" \t\n" + F32_2 + " \r\n", 8),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_malformed_files_are_refused_by_both_with_a_reason(tmp_path, case):
    header, data = REFUSED[case]
    path = write(tmp_path / "m.safetensors", header, data)
    assert real_verdict(path) is not None, "the real library accepts it: the case is wrong"
    assert our_verdict(path) is not None
    check = check_file(path)
    assert not check.ok and check.problem


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_odd_but_valid_files_are_accepted_by_both(tmp_path, case):
    header, data = ACCEPTED[case]
    path = write(tmp_path / "m.safetensors", header, data)
    assert real_verdict(path) is None
    assert our_verdict(path) is None
    assert check_file(path).ok


def test_refusals_name_the_problem(tmp_path):
    reasons = {}
    for case in ("shape null", "offsets strings", "dtype unknown", "metadata value an int", "nested 10,000 deep"):
        header, data = REFUSED[case]
        reasons[case] = our_verdict(write(tmp_path / "m.safetensors", header, data))
    assert reasons == {
        "shape null": "tensor 'a': shape is null, not an array",
        "offsets strings": "tensor 'a': data_offsets holds a string ('0'), not a size (an integer >= 0)",
        "dtype unknown": "tensor 'a' has dtype 'F128', which safetensors does not know",
        "metadata value an int": "__metadata__ 'steps' is a number (1000), not a string",
        "nested 10,000 deep": "header JSON is nested deeper than 127 levels",
    }


def test_header_length_limit_is_100_000_000_bytes(tmp_path):
    """The reader's limit in bytes (not 100 MiB): a valid header of exactly that length opens, one more
    byte does not, and a length field over it is refused before anything is read."""
    path = tmp_path / "big.safetensors"
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", MAX_HEADER + 1) + b"{}" + b" " * (MAX_HEADER - 1))
    assert real_verdict(path) is not None
    assert "over the 100,000,000-byte limit" in our_verdict(path)
    with open(path, "r+b") as fh:
        fh.write(struct.pack("<Q", MAX_HEADER))
        fh.truncate(8 + MAX_HEADER)
    assert real_verdict(path) is None
    assert our_verdict(path) is None
    path.unlink()
    liar = write(tmp_path / "liar.safetensors", "{}", 0, length=2**64 - 1)  # a 10-byte file
    assert real_verdict(liar) is not None and "over the 100,000,000-byte limit" in our_verdict(liar)


def test_truncated_files_are_refused_at_every_length(tmp_path):
    full = tmp_path / "full.safetensors"
    save_file({"w": np.ones((3, 5), np.float16), "b": np.arange(4, dtype=np.int64)}, full, {"k": "v"})
    content = full.read_bytes()
    cut = tmp_path / "cut.safetensors"
    for length in sorted({0, 1, 7, 8, 9, 20, len(content) // 2, len(content) - 1}):
        cut.write_bytes(content[:length])
        assert real_verdict(cut) is not None and our_verdict(cut) is not None, length


# -- random mutations of valid files ------------------------------------------------------------------

WEIRD = [
    None, True, 0, 2, -1, 2.0, -0.0, 1.5, "2", "F32", "f16", "", [], [0], [2], [0, 8], [0, 8, 8], [-1],
    [2.0], [None], ["0", "8"], [True], [2**64], [2**64 - 1], {}, {"F32": None}, {"F32": 1}, {"a": "b"},
    ["F32", [2], [0, 8]], "BF16", "F8_E4M3", "F4", "C64", "BOOL", "I64",
]  # fmt: skip
TEXT_SNIPPETS = ["NaN", "1e400", "-0", "Infinity", "\\ud800", '"', "\\", "{", "]", ",", " ", "\t", "\x01", "é"]
NP_DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int64, np.uint8, np.bool_]


def valid_file(rng: random.Random, path):
    tensors = {}
    for i in range(rng.randint(1, 4)):
        shape = tuple(rng.randint(0, 3) for _ in range(rng.randint(0, 3)))
        tensors[f"t{i}.weight"] = np.zeros(shape, dtype=rng.choice(NP_DTYPES))
    metadata = {"format": "pt", "note": "x" * rng.randint(0, 12)} if rng.random() < 0.5 else None
    save_file(tensors, path, metadata)
    return path


def mutate(rng: random.Random, content: bytes) -> bytes:
    """One change to a valid file: to its header's values, its JSON text, its length field or its size."""
    (n,) = struct.unpack("<Q", content[:8])
    raw, data = content[8 : 8 + n], content[8 + n :]
    header = json.loads(raw)
    names = [k for k in header if k != "__metadata__"]
    kind = rng.randrange(8)
    if kind == 0:  # a field of a tensor becomes something else
        header[rng.choice(names)][rng.choice(["dtype", "shape", "data_offsets"])] = rng.choice(WEIRD)
    elif kind == 1:  # an offset moves
        info = header[rng.choice(names)]
        info["data_offsets"][rng.randrange(2)] += rng.choice([-8, -2, -1, 1, 2, 4])
    elif kind == 2:  # metadata of another shape
        header["__metadata__"] = rng.choice([None, {"a": 1}, {"a": None}, [], "x", {"a": "b"}, {"a": ["b"]}])
    elif kind == 3:  # a whole tensor entry becomes something else (its array form among them), or goes
        name = rng.choice(names)
        info = header.pop(name)
        if rng.random() < 0.7:
            header[name] = rng.choice([[info["dtype"], info["shape"], info["data_offsets"]], rng.choice(WEIRD)])
    elif kind == 4:  # text inserted into the JSON
        text = raw.decode()
        at = rng.randrange(len(text) + 1)
        raw = (text[:at] + rng.choice(TEXT_SNIPPETS) + text[at:]).encode()
        return struct.pack("<Q", len(raw)) + raw + data
    elif kind == 5:  # a bit of the header flipped
        at = rng.randrange(len(raw))
        raw = raw[:at] + bytes([raw[at] ^ (1 << rng.randrange(8))]) + raw[at + 1 :]
        return struct.pack("<Q", len(raw)) + raw + data
    elif kind == 6:  # the length field lies
        return struct.pack("<Q", max(0, n + rng.choice([-9, -1, 1, 8, 2**32]))) + content[8:]
    else:  # a key written twice: serde keeps the last but reads each
        name = rng.choice([*names, "__metadata__"])
        first = json.dumps(rng.choice([header.get(name), *WEIRD]))
        raw = b'{"' + name.encode() + b'":' + first.encode() + b"," + raw.lstrip()[1:]
        return struct.pack("<Q", len(raw)) + raw + data
    raw = json.dumps(header, separators=(",", ":")).encode() + b" " * rng.randrange(8)
    return struct.pack("<Q", len(raw)) + raw + data


def damage(rng: random.Random, content: bytes) -> bytes:
    """A second, blind change: any bit flipped, or the file cut or grown."""
    kind = rng.randrange(3)
    if kind == 0 and content:
        at = rng.randrange(len(content))
        return content[:at] + bytes([content[at] ^ (1 << rng.randrange(8))]) + content[at + 1 :]
    if kind == 1 and content:
        return content[: rng.randrange(len(content))]
    return content + bytes(rng.randint(1, 9))


def test_random_mutations_get_the_real_librarys_verdict(tmp_path):
    rng = random.Random(20240614)
    path = tmp_path / "m.safetensors"
    verdicts = {True: 0, False: 0}
    for i in range(400):
        content = mutate(rng, valid_file(rng, path).read_bytes())
        if rng.random() < 0.3:
            content = damage(rng, content)
        path.write_bytes(content)
        real, ours = real_verdict(path), our_verdict(path)
        assert (real is None) == (ours is None), f"mutation {i}: real {real!r}, ours {ours!r}, file {content[:300]!r}"
        assert check_file(path).ok == (real is None)
        verdicts[real is None] += 1
    assert verdicts[True] >= 20 and verdicts[False] >= 200, verdicts  # both outcomes were exercised
