"""Names a package exports but imports on first use (a module `__getattr__`, PEP 562), so a command
that never uses them does not pay for their imports."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, names: Mapping[str, tuple[str, str]], namespace: dict[str, Any]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of `package`: `names` maps each exported name to (module, its
    name there); a value is imported at its first use and kept in `namespace` (the package's
    globals()), so the next lookup finds it directly."""

    def __getattr__(name: str) -> object:
        try:
            module, attribute = names[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value: object = getattr(importlib.import_module(module), attribute)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *names})

    return __getattr__, __dir__
