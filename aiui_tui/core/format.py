"""Human-readable numbers for both UIs."""

from __future__ import annotations

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(n: float | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_used_of(used: float | None, total: float | None) -> str:
    """`used` of `total`, both in the total's unit: 0.8/23.5 GiB."""
    whole = human_bytes(total)
    if used is None or total is None:
        return f"{human_bytes(used)}/{whole}"
    unit = whole.partition(" ")[2]
    if unit == "B":
        return f"{used:.0f}/{whole}"
    return f"{used / 1024 ** _UNITS.index(unit):.1f}/{whole}"


def human_rate(bytes_per_s: float | None) -> str:
    return "?" if bytes_per_s is None else f"{human_bytes(bytes_per_s)}/s"


def human_duration(seconds: float | None) -> str:
    """`1h02m`, `3m05s`, `42s`; `?` when unknown."""
    if seconds is None or seconds < 0 or seconds != seconds or seconds == float("inf"):
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h:02d}h"


def human_percent(fraction: float | None) -> str:
    return "?" if fraction is None else f"{fraction * 100:.0f}%"
