"""Pure helpers: formatting, throttling, errors."""

from __future__ import annotations

from aiui_tui.core.errors import AiuiError, ConfigError
from aiui_tui.core.format import human_bytes, human_duration, human_percent, human_rate, human_used_of
from aiui_tui.core.throttle import Throttle


def test_human_bytes():
    assert human_bytes(0) == "0 B"
    assert human_bytes(1023) == "1023 B"
    assert human_bytes(7_105_348_592) == "6.6 GiB"
    assert human_bytes(None) == "?"
    assert human_rate(1024 * 1024 * 5) == "5.0 MiB/s"


def test_used_of_total_is_in_the_totals_unit():
    # A narrow panel has room for one shape: 778.7 MiB/23.5 GiB wrapped the 80-column dashboard.
    assert human_used_of(778.7 * 2**20, 23.5 * 2**30) == "0.8/23.5 GiB"
    assert human_used_of(9 * 2**30, 24 * 2**30) == "9.0/24.0 GiB"
    assert human_used_of(100, 1000) == "100/1000 B"
    assert human_used_of(None, 2**30) == "?/1.0 GiB"


def test_human_duration():
    assert [human_duration(s) for s in (0, 59, 61, 3725, 200000)] == ["0s", "59s", "1m01s", "1h02m", "2d07h"]
    assert human_duration(None) == "?" and human_duration(float("inf")) == "?"
    assert human_percent(0.256) == "26%"


def test_throttle_lets_ten_per_second_through():
    t = Throttle(10)
    passed = [t.ready(i * 0.01) for i in range(100)]  # 1 s of calls every 10 ms
    assert sum(passed) == 10
    assert t.ready(0.995, force=True)


def test_errors_are_one_line_with_fix_and_exit_codes():
    e = ConfigError("bad value.", "fix it")
    assert e.one_line() == "bad value. Fix: fix it" and e.exit_code == 2
    assert AiuiError("x").exit_code == 1
    assert AiuiError("x", exit_code=2).exit_code == 2
