"""A package's lazily exported names: imported at first use, kept, and unknown names refused."""

import sys
import types

import pytest

from aiui_tui.core.lazy import lazy_exports


def test_a_name_is_imported_at_its_first_use_kept_and_listed(tmp_path, monkeypatch):
    (tmp_path / "lazy_first.py").write_text("VALUE = object()\n")
    (tmp_path / "lazy_second.py").write_text("VALUE = object()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    package = types.ModuleType("pkg_under_test")
    names = {"first": ("lazy_first", "VALUE"), "second": ("lazy_second", "VALUE")}
    getattr_, dir_ = lazy_exports(package.__name__, names, package.__dict__)
    assert "lazy_first" not in sys.modules and {"first", "second"} <= set(dir_())

    assert getattr_("first") is sys.modules["lazy_first"].VALUE
    assert package.__dict__["first"] is sys.modules["lazy_first"].VALUE  # the next lookup is direct
    assert "lazy_second" not in sys.modules  # only what was asked for is imported
    with pytest.raises(AttributeError, match=r"'pkg_under_test' has no attribute 'nothing'"):
        getattr_("nothing")
    for name in ("lazy_first", "lazy_second"):
        sys.modules.pop(name, None)
