"""Operating-system errors met anywhere become one line with a fix (exit 2), not "Unexpected error"."""

from __future__ import annotations

import errno
import subprocess

import pytest

from aiui_tui.core.errors import EXIT_USAGE
from aiui_tui.core.oserrors import os_problem
from tests.downloads.conftest import tmpfs


def raised(action) -> OSError:
    with pytest.raises(OSError) as err:
        action()
    return err.value


def test_a_full_disk_a_link_loop_and_a_long_name_are_named_with_their_fix(tmp_path):
    disk = tmpfs(tmp_path / "small", "64k")
    try:
        full = raised(lambda: (disk / "big").write_bytes(b"x" * 200_000))
        problem = os_problem(full)
        assert full.errno == errno.ENOSPC and "no space left" in problem.message and problem.exit_code == EXIT_USAGE
    finally:
        subprocess.run(["umount", str(disk)], check=True)
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    loop = os_problem(raised(lambda: (tmp_path / "a").read_text()))
    assert "loop of symbolic links" in loop.message and str(tmp_path / "a") in loop.message
    long = os_problem(raised(lambda: (tmp_path / ("x" * 300)).write_text("")))
    assert "too long" in long.message
    for problem in (loop, long):
        assert "\n" not in problem.message and problem.fix


def test_permission_denied_names_the_path(tmp_path):
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\n")  # mode 0644: exec is refused even to root
    problem = os_problem(raised(lambda: subprocess.run([str(script)], check=False)))
    assert problem.message == f"Permission denied: {script}." and "chown" in problem.fix


def test_errors_that_say_nothing_about_the_machine_stay_unexpected():
    assert os_problem(OSError(errno.EBADF, "Bad file descriptor")) is None
