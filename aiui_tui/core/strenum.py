"""`StrEnum`: states that are types and still their old strings.

A member equals its value (`AppState.READY == "ready"`), and `str()`, f-strings, JSON and SQLite
give the value, so stored rows and `--json` output are the same as when states were plain strings.
Python 3.11 has `enum.StrEnum`; this is the same for 3.10.
"""

from __future__ import annotations

import sys
from enum import Enum

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # pragma: no cover (Python 3.10)

    class StrEnum(str, Enum):
        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, spec: str) -> str:
            return str(self.value).__format__(spec)


__all__ = ["StrEnum"]
