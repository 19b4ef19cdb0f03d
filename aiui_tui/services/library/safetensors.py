"""Read and check a `.safetensors` header without loading a tensor.

Layout: 8 bytes little-endian u64 N, then N bytes of UTF-8 JSON, then the tensor data. A file is
consistent when N is sane, the JSON parses, every tensor's offsets lie in the data, do not overlap,
and the last one ends exactly at the end of the file: that catches truncated downloads and HTML
pages saved under a model's name. Blocking: call from a thread.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_HEADER = 100 * 1024 * 1024  # the reference implementation's limit

DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip


class SafetensorsError(ValueError):
    """The file is not a consistent safetensors file; the message says how."""


@dataclass(frozen=True)
class Header:
    header_size: int  # N, the JSON's length
    tensors: dict[str, dict[str, Any]]
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def data_offset(self) -> int:
        return 8 + self.header_size

    def keys(self) -> list[str]:
        return list(self.tensors)


def read_header(path: Path, size: int | None = None) -> Header:
    """Parse and check the header of `path` against its size; raise SafetensorsError when it lies."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size if size is None else size
        prefix = fh.read(8)
        if len(prefix) < 8:
            raise SafetensorsError(f"only {len(prefix)} bytes: too short for a safetensors header")
        (n,) = struct.unpack("<Q", prefix)
        if n > MAX_HEADER:
            raise SafetensorsError(f"header length {n} is over the 100 MB limit (not a safetensors file?)")
        if 8 + n > size:
            raise SafetensorsError(f"header claims {n} bytes but the file has {size - 8} after the length (truncated)")
        raw = fh.read(n)
    return parse_header(raw, size)


def parse_header(raw: bytes, file_size: int) -> Header:
    n = len(raw)
    try:
        table = json.loads(raw.decode("utf-8").rstrip(" "))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SafetensorsError(f"header is not JSON ({exc.__class__.__name__}): not a safetensors file") from None
    if not isinstance(table, dict):
        raise SafetensorsError("header is not a JSON object")
    metadata = table.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise SafetensorsError("__metadata__ is not an object")
    data_size = file_size - 8 - n
    spans: list[tuple[int, int, str]] = []
    for name, info in table.items():
        try:
            begin, end = info["data_offsets"]
            dtype, shape = info["dtype"], info["shape"]
            begin, end = int(begin), int(end)
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"tensor {name!r} has no valid dtype/shape/data_offsets") from None
        if not 0 <= begin <= end:
            raise SafetensorsError(f"tensor {name!r} has offsets {begin}..{end}")
        count = 1
        for dim in shape:
            count *= int(dim)
        if dtype in DTYPE_SIZES and count * DTYPE_SIZES[dtype] != end - begin:
            raise SafetensorsError(
                f"tensor {name!r}: {dtype}{shape} needs {count * DTYPE_SIZES[dtype]} bytes, offsets give {end - begin}"
            )
        spans.append((begin, end, name))
    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin < position:
            raise SafetensorsError(f"tensor {name!r} overlaps the one before it")
        if begin > position:
            raise SafetensorsError(f"gap of {begin - position} bytes before tensor {name!r}")
        position = end
    if position != data_size:
        if position > data_size:
            raise SafetensorsError(
                f"tensors need {position} bytes of data but the file has {data_size} (truncated download?)"
            )
        raise SafetensorsError(f"{data_size - position} bytes after the last tensor (the header lies about the size)")
    return Header(header_size=n, tensors=table, metadata={str(k): str(v) for k, v in metadata.items()})


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
