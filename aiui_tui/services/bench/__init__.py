"""Generation benchmark: a fixed txt2img request through an app's own HTTP API, timed, with peak VRAM and RAM."""

from aiui_tui.services.bench.clients import BenchError, client_for
from aiui_tui.services.bench.runner import BenchRequest, BenchResult, run_bench, save_result

__all__ = ["BenchError", "BenchRequest", "BenchResult", "client_for", "run_bench", "save_result"]
