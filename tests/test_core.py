"""Pure helpers: formatting, throttling, errors."""

from __future__ import annotations

from aiui_tui.core.errors import AiuiError, ConfigError
from aiui_tui.core.format import human_bytes, human_duration, human_percent, human_rate
from aiui_tui.core.throttle import Throttle


def test_human_bytes():
    assert human_bytes(0) == "0 B"
    assert human_bytes(1023) == "1023 B"
    assert human_bytes(7_105_348_592) == "6.6 GiB"
    assert human_bytes(None) == "?"
    assert human_rate(1024 * 1024 * 5) == "5.0 MiB/s"


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
