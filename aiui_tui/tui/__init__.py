"""The Textual UI: renders service state and sends intents; no business logic here.

`aiui-tui` starting the dashboard (cli/tui_cmd, in a terminal) imports this package before Textual:
from here until the first frame is drawn there is no garbage collection. The objects made meanwhile
(Textual's modules, the stylesheet, the first screen) are all kept, so collecting them was ~25% of
the start-up for nothing. After the first frame (`release_gc`, called by the app) they are frozen
out of later collections and the collector runs as usual.
"""

from __future__ import annotations

import gc
import sys

gc_held = "aiui_tui.cli.tui_cmd" in sys.modules and bool(sys.stdout and sys.stdout.isatty()) and gc.isenabled()
if gc_held:
    gc.disable()


def release_gc() -> None:
    """Collect again, with what start-up made frozen (the app calls this after its first frame)."""
    global gc_held
    if gc_held:
        gc_held = False
        gc.freeze()
        gc.enable()
