"""Importing the HTTP client (aiohttp) without loading CA certificates that are never used.

aiohttp builds two TLS contexts when `aiohttp.connector` is imported: a verifying one, and one for
`ssl=False` that checks nothing (`CERT_NONE`) yet loads the system's CA bundle too: ~50 ms each,
held under the GIL, for every process that downloads anything, http:// included. While aiohttp is
imported here, a context that verifies nothing gets no CA bundle; every other context (the
verifying one, and any made on another thread meanwhile) loads it as before.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from collections.abc import Iterator
from types import ModuleType


def import_module(name: str) -> ModuleType:
    """`importlib.import_module(name)`; the first import of aiohttp skips the CA bundle of its
    context that verifies nothing."""
    if "aiohttp" in sys.modules:
        return importlib.import_module(name)
    with _unverifying_contexts_load_no_cas():
        return importlib.import_module(name)


@contextlib.contextmanager
def _unverifying_contexts_load_no_cas() -> Iterator[None]:
    try:
        import ssl
    except ImportError:  # a Python without ssl: aiohttp makes no contexts
        yield
        return
    original = ssl.SSLContext.set_default_verify_paths
    importer = threading.get_ident()

    def set_default_verify_paths(self: ssl.SSLContext) -> None:
        if threading.get_ident() == importer and self.verify_mode == ssl.CERT_NONE and not self.check_hostname:
            return  # verifies no peer: a CA store would never be consulted
        original(self)

    ssl.SSLContext.set_default_verify_paths = set_default_verify_paths  # type: ignore[method-assign]
    try:
        yield
    finally:
        ssl.SSLContext.set_default_verify_paths = original  # type: ignore[method-assign]
