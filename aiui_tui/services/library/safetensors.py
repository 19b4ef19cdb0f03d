"""Read and check a `.safetensors` header without loading a tensor.

Layout: 8 bytes little-endian u64 N, then N bytes of UTF-8 JSON, then the tensor data. The rules
are those of the reference reader (huggingface/safetensors, `safetensors/src/tensor.rs`:
`SafeTensors::read_metadata`, `Metadata::validate`, `TensorInfo`, `Dtype`, read through serde_json),
checked against the installed `safetensors` library by tests/library/test_safetensors_conformance.py:
a file this module accepts is one that library opens, and the other way round. Every failure is a
`SafetensorsError` with a one-line reason; reads are bounded and only regular files are opened.
Blocking: call from a thread.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

MAX_HEADER = 100_000_000  # tensor.rs MAX_HEADER_SIZE: bytes, not MiB
MAX_DEPTH = 127  # serde_json's recursion limit (128) refuses one more level of arrays/objects
_U64 = 1 << 64  # the reader's usize on the 64-bit machines that run models
_FIELDS = ("dtype", "shape", "data_offsets")

# tensor.rs `Dtype` and `Dtype::bitsize`, the whole list; anything else is refused ("unknown variant").
DTYPE_BITS = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8,
    "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32,
    "C64": 64, "F64": 64, "I64": 64, "U64": 64,
}  # fmt: skip
DTYPE_SIZES = {name: bits // 8 for name, bits in DTYPE_BITS.items() if bits % 8 == 0}

_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class SafetensorsError(ValueError):
    """The file is not a consistent safetensors file; the message says how."""


class NotARegularFile(SafetensorsError):
    """A FIFO, device, socket or folder under a model's name: never opened for reading."""


@dataclass(frozen=True)
class Header:
    header_size: int  # N, the JSON's length
    tensors: dict[str, dict[str, Any]]  # name -> {"dtype": str, "shape": [int], "data_offsets": [int, int]}
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def data_offset(self) -> int:
        return 8 + self.header_size

    def keys(self) -> list[str]:
        return list(self.tensors)


def open_regular(path: Path) -> BinaryIO:
    """Open `path` for reading if it is a regular file (after links); raise NotARegularFile if not.

    Checked before opening, so a device is never opened, and again on the open descriptor (opened
    non-blocking, so a FIFO swapped in meanwhile cannot hang us), so the check cannot race.
    """
    _require_regular(os.stat(path).st_mode)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        _require_regular(os.fstat(fd).st_mode)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _require_regular(mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    what = (
        "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
        else "a character device" if stat.S_ISCHR(mode)
        else "a block device" if stat.S_ISBLK(mode)
        else "a socket" if stat.S_ISSOCK(mode)
        else "a folder" if stat.S_ISDIR(mode)
        else "a special file"
    )  # fmt: skip
    raise NotARegularFile(f"not a model file: {what}")


# Headers of real models are well under 1 MiB (an SDXL checkpoint's: ~200 KB for 2,500 tensors).
# Parsing JSON costs about 8x its size in memory, so a 100 MB header would cost 800 MB: the
# library refuses, unparsed, any header over this (the reference reader would still load it).
SANE_HEADER = 16 * 1024 * 1024


def read_header(path: Path, size: int | None = None, limit: int = MAX_HEADER) -> Header:
    """Parse and check the header of `path` against its size; raise SafetensorsError when it lies.

    Reads at most 8 + `limit` bytes (the reference reader's 100,000,000 by default; the library
    passes SANE_HEADER). OSError (permission denied, gone) passes through.
    """
    with open_regular(path) as fh:
        size = os.fstat(fh.fileno()).st_size if size is None else size
        prefix = fh.read(8)
        if len(prefix) < 8:
            raise SafetensorsError(f"only {len(prefix)} bytes: too short for a safetensors header")
        (n,) = struct.unpack("<Q", prefix)
        if n > MAX_HEADER:
            raise SafetensorsError(f"header length {n} is over the 100,000,000-byte limit (not a safetensors file?)")
        if n > limit:
            raise SafetensorsError(
                f"header of {n:,} bytes, far beyond any model's (limit {limit:,}): not read, not a usual model file"
            )
        if 8 + n > size:
            raise SafetensorsError(f"header claims {n} bytes but the file has {size - 8} after the length (truncated)")
        raw = fh.read(n)
    if len(raw) < n:
        raise SafetensorsError(f"header claims {n} bytes but only {len(raw)} could be read (truncated)")
    return parse_header(raw, size)


def parse_header(raw: bytes, file_size: int) -> Header:
    """Check the JSON header `raw` (N bytes) of a file of `file_size` bytes, as the reference reader does."""
    n = len(raw)
    if n > MAX_HEADER:
        raise SafetensorsError(f"header length {n} is over the 100,000,000-byte limit")
    table = _load_json(raw)
    if not isinstance(table, dict):
        raise SafetensorsError(f"header is {_kind(table)}, not a JSON object: not a safetensors file")
    metadata = _metadata(table)
    tensors = {name: _tensor_info(name, info) for name, info in table.items() if name != "__metadata__"}
    for name, info in getattr(table, "shadowed", ()):
        if name != "__metadata__":
            _tensor_info(name, info)  # checked, then replaced by the later one of that name
    _check_unread_parts(table, surrogates=_MAYBE_SURROGATE.search(raw) is not None)
    data_size = file_size - 8 - n
    position = _check_layout(tensors)
    if position != data_size:
        if position > data_size:
            raise SafetensorsError(
                f"tensors need {position} bytes of data but the file has {data_size} (truncated download?)"
            )
        raise SafetensorsError(f"{data_size - position} bytes after the last tensor (the header lies about the size)")
    return Header(header_size=n, tensors=tensors, metadata=metadata)


# -- JSON as serde_json reads it -----------------------------------------------------------------------


class _Object(dict[str, Any]):
    """A JSON object that keeps what a repeated key shadowed: the value kept is the last one, as in
    serde's maps, but serde reads (and so checks) every one, and refuses a struct field given twice."""

    __slots__ = ("shadowed",)
    shadowed: tuple[tuple[str, Any], ...]

    @property
    def repeated(self) -> set[str]:
        return {key for key, _ in self.shadowed}


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    obj.shadowed = ()
    if len(obj) != len(pairs):
        last = {key: i for i, (key, _) in enumerate(pairs)}
        obj.shadowed = tuple(pair for i, pair in enumerate(pairs) if last[pair[0]] != i)
    return obj


def _every_item(obj: dict[str, Any]) -> list[tuple[str, Any]]:
    """The pairs of a JSON object as written, shadowed ones included."""
    return [*obj.items(), *getattr(obj, "shadowed", ())]


def _int(text: str) -> int | float:
    # serde_json keeps a u64 or an i64 an integer; "-0" and wider numbers become f64 (so never a size).
    if len(text) <= 20:
        value = int(text)
        if -(1 << 63) <= value < _U64 and text != "-0":
            return value
    return _float(text)


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        shown = text if len(text) <= 24 else text[:24] + "..."
        raise SafetensorsError(f"header has a number out of range ({shown})")
    return value


def _constant(text: str) -> Any:
    raise SafetensorsError(f"header has {text}, which is not JSON")


def _load_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SafetensorsError(f"header is not UTF-8 (byte {exc.start}): not a safetensors file") from None
    try:
        value = json.loads(
            text, object_pairs_hook=_object, parse_int=_int, parse_float=_float, parse_constant=_constant
        )
    except json.JSONDecodeError as exc:
        reason = exc.msg.removesuffix(" at")
        raise SafetensorsError(f"header is not JSON ({reason}, byte {exc.pos}): not a safetensors file") from None
    except RecursionError:
        raise SafetensorsError(f"header JSON is nested deeper than {MAX_DEPTH} levels") from None
    except MemoryError:
        raise SafetensorsError("header JSON is too large to read") from None
    return value


def _check_unread_parts(table: dict[str, Any], surrogates: bool) -> None:
    """What serde_json refuses in a header whose fields are otherwise valid: nesting deeper than its
    limit (only possible in the fields a tensor may carry beside its three, which the reader skips),
    and a lone UTF-16 surrogate escape ("\\ud800") in any string."""
    stack: list[tuple[list[tuple[Any, Any]], int]] = []  # the pairs of an object or array, its depth
    for name, info in _every_item(table):
        if surrogates and _has_surrogate(name):
            raise SafetensorsError("header has a lone UTF-16 surrogate escape, which the reader refuses")
        if name == "__metadata__":
            if surrogates and isinstance(info, dict):  # a map of strings: nothing nested
                stack.append((_every_item(info), 2))
        elif isinstance(info, dict):
            extra = [(k, v) for k, v in _every_item(info) if k not in _FIELDS]
            if extra:
                stack.append((extra, 2))  # top = 1, the tensor = 2
    while stack:
        pairs, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SafetensorsError(f"header JSON is nested deeper than {MAX_DEPTH} levels")
        for key, value in pairs:
            if surrogates and (_has_surrogate(key) or _has_surrogate(value)):
                raise SafetensorsError("header has a lone UTF-16 surrogate escape, which the reader refuses")
            if isinstance(value, dict):
                stack.append((_every_item(value), depth + 1))
            elif isinstance(value, list):
                stack.append(([(None, v) for v in value], depth + 1))


def _has_surrogate(value: Any) -> bool:
    return isinstance(value, str) and _SURROGATE.search(value) is not None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({value[:20]!r})"
    return "an array" if isinstance(value, list) else "an object"


# -- the header's fields -------------------------------------------------------------------------------


def _metadata(table: dict[str, Any]) -> dict[str, str]:
    if "__metadata__" in getattr(table, "repeated", set()):
        raise SafetensorsError("__metadata__ appears twice in the header")
    metadata = table.get("__metadata__")
    if metadata is None:  # absent or null: serde's Option
        return {}
    if not isinstance(metadata, dict):
        raise SafetensorsError(f"__metadata__ is {_kind(metadata)}, not an object of strings")
    for key, value in _every_item(metadata):
        if not isinstance(value, str):
            raise SafetensorsError(f"__metadata__ {key!r} is {_kind(value)}, not a string")
    return dict(metadata)


def _tensor_info(name: str, info: Any) -> dict[str, Any]:
    """tensor.rs `TensorInfo`: an object with the three fields (others ignored), or serde's array form."""
    if isinstance(info, list):
        if len(info) != 3:
            raise SafetensorsError(f"tensor {name!r} is an array of {len(info)} values, not [dtype, shape, offsets]")
        dtype, shape, offsets = info
    elif isinstance(info, dict):
        twice = [f for f in _FIELDS if f in getattr(info, "repeated", set())]
        if twice:
            raise SafetensorsError(f"tensor {name!r} gives {twice[0]} twice")
        missing = [f for f in _FIELDS if f not in info]
        if missing:
            raise SafetensorsError(f"tensor {name!r} has no {missing[0]}")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    else:
        raise SafetensorsError(f"tensor {name!r} is {_kind(info)}, not an object")
    if type(dtype) is not str or dtype not in DTYPE_BITS:
        dtype = _dtype(name, dtype)
    if type(shape) is not list or not all(type(d) is int and 0 <= d < _U64 for d in shape):
        if not isinstance(shape, list):
            raise SafetensorsError(f"tensor {name!r}: shape is {_kind(shape)}, not an array")
        shape = [_size(name, "shape", dim) for dim in shape]
    if type(offsets) is not list or len(offsets) != 2:
        what = f"an array of {len(offsets)}" if isinstance(offsets, list) else _kind(offsets)
        raise SafetensorsError(f"tensor {name!r}: data_offsets is {what}, not [begin, end]")
    return {"dtype": dtype, "shape": shape, "data_offsets": [_size(name, "data_offsets", v) for v in offsets]}


def _dtype(name: str, value: Any) -> str:
    # serde reads a unit enum variant from "F16" or from {"F16": null}.
    if isinstance(value, dict) and len(value) == 1 and not getattr(value, "shadowed", ()):
        ((variant, unit),) = value.items()
        if unit is None:
            value = variant
    if isinstance(value, str) and value in DTYPE_BITS:
        return value
    if isinstance(value, str):
        raise SafetensorsError(f"tensor {name!r} has dtype {value[:20]!r}, which safetensors does not know")
    raise SafetensorsError(f"tensor {name!r}: dtype is {_kind(value)}, not a dtype name")


def _size(name: str, what: str, value: Any) -> int:
    if type(value) is int and 0 <= value < _U64:
        return value
    raise SafetensorsError(f"tensor {name!r}: {what} holds {_kind(value)}, not a size (an integer >= 0)")


def _check_layout(tensors: dict[str, dict[str, Any]]) -> int:
    """tensor.rs `Metadata::validate`: tensors in offset order tile the data from 0 with no gap or
    overlap, each exactly as long as its shape and dtype need; returns the end of the last one."""
    position = 0
    for (begin, end), name in sorted((tuple(t["data_offsets"]), n) for n, t in tensors.items()):
        info = tensors[name]
        if begin < position:
            raise SafetensorsError(f"tensor {name!r} overlaps the one before it")
        if begin > position:
            raise SafetensorsError(f"gap of {begin - position} bytes before tensor {name!r}")
        if end < begin:
            raise SafetensorsError(f"tensor {name!r} ends before it begins ({begin}..{end})")
        position = end
        count = 1
        for dim in info["shape"]:  # checked at each step, in order, as the reader's checked_mul fold
            count *= dim
            if count >= _U64:
                raise SafetensorsError(f"tensor {name!r}: shape {info['shape']} overflows 64 bits")
        bits = count * DTYPE_BITS[info["dtype"]]
        if bits >= _U64:
            raise SafetensorsError(f"tensor {name!r}: shape {info['shape']} overflows 64 bits")
        if bits % 8:
            raise SafetensorsError(f"tensor {name!r}: {count} {info['dtype']} values do not end on a byte")
        if end - begin != bits // 8:
            raise SafetensorsError(
                f"tensor {name!r}: {info['dtype']}{info['shape']} needs {bits // 8} bytes, offsets give {end - begin}"
            )
    return position


def write_safetensors(
    path: Path, tensors: dict[str, tuple[str, list[int]]], metadata: dict[str, str] | None = None
) -> None:
    """Write a valid file with zero-filled tensors: for tests, benchmarks and fixtures."""
    header: dict[str, Any] = {}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        count = 1
        for dim in shape:
            count *= dim
        nbytes = count * DTYPE_SIZES[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)))
        fh.write(raw)
        fh.truncate(8 + len(raw) + offset)
