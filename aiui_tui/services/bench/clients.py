"""One txt2img request per UI, in the shapes their own APIs take and give back.

AUTOMATIC1111 (and Forge): POST /sdapi/v1/txt2img (started with --api). ComfyUI: POST /prompt with a
workflow in API format, then GET /history/ID until the prompt is done. Fooocus-API: POST
/v1/generation/text-to-image. Fooocus itself has no such API: `client_for` says so.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp

from aiui_tui.core.errors import AiuiError

PROMPT = "a lighthouse on a rocky coast at sunset, detailed, photograph"
NEGATIVE = "blurry, low quality"
SEED = 1234567


class BenchError(AiuiError):
    pass


class Client:
    api = ""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base = base_url.rstrip("/")
        self.session = session
        self.model = ""

    async def prepare(self, width: int, height: int, steps: int) -> None:
        """Checks before the first image (API present, a model to use)."""

    async def generate(self, width: int, height: int, steps: int) -> None:
        raise NotImplementedError

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.base + path
        try:
            async with self.session.request(method, url, **kwargs) as response:
                if response.status == 404:
                    raise BenchError(f"{url} answered 404: the app does not expose this API.", self.no_api_fix())
                text = await response.text()
                if response.status >= 400:
                    raise BenchError(f"{url} answered {response.status}: {text[:200]}", "see the app's log")
                try:
                    return await response.json(content_type=None)
                except ValueError:
                    raise BenchError(f"{url} did not answer JSON: {text[:120]!r}", self.no_api_fix()) from None
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as exc:
            raise BenchError(
                f"Cannot reach {url}: {exc or type(exc).__name__}.", "is the app running and ready?"
            ) from None

    def no_api_fix(self) -> str:
        return "check the app's API settings"


class A1111Client(Client):
    api = "a1111"

    def no_api_fix(self) -> str:
        return "start AUTOMATIC1111/Forge with --api (the built-in manifests do)"

    async def prepare(self, width: int, height: int, steps: int) -> None:
        options = await self._json("GET", "/sdapi/v1/options")
        self.model = str(options.get("sd_model_checkpoint", "")) if isinstance(options, dict) else ""

    async def generate(self, width: int, height: int, steps: int) -> None:
        payload = {
            "prompt": PROMPT, "negative_prompt": NEGATIVE, "seed": SEED, "steps": steps, "width": width,
            "height": height, "cfg_scale": 7, "sampler_name": "Euler a", "batch_size": 1, "n_iter": 1,
            "save_images": False, "send_images": True,
        }  # fmt: skip
        answer = await self._json("POST", "/sdapi/v1/txt2img", json=payload)
        if not isinstance(answer, dict) or not answer.get("images"):
            raise BenchError("AUTOMATIC1111 answered without an image.", "see the app's log")


class ComfyClient(Client):
    api = "comfyui"
    POLL_S = 0.1

    async def prepare(self, width: int, height: int, steps: int) -> None:
        info = await self._json("GET", "/object_info/CheckpointLoaderSimple")
        try:
            names = info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0]
        except (KeyError, TypeError, IndexError):
            names = []
        if not names:
            raise BenchError(
                "ComfyUI lists no checkpoint to load.", "add one: aiui-tui models add sdxl-base-1.0 (then restart it)"
            )
        self.model = str(names[0])

    def workflow(self, width: int, height: int, steps: int) -> dict[str, Any]:
        """The default txt2img graph in API format (node id -> class_type and inputs; links are [id, output])."""
        return {
            "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": self.model}},
            "6": {"class_type": "CLIPTextEncode", "inputs": {"text": PROMPT, "clip": ["4", 1]}},
            "7": {"class_type": "CLIPTextEncode", "inputs": {"text": NEGATIVE, "clip": ["4", 1]}},
            "5": {"class_type": "EmptyLatentImage", "inputs": {"width": width, "height": height, "batch_size": 1}},
            "3": {
                "class_type": "KSampler",
                "inputs": {
                    "seed": SEED,
                    "steps": steps,
                    "cfg": 7.0,
                    "sampler_name": "euler",
                    "scheduler": "normal",
                    "denoise": 1.0,
                    "model": ["4", 0],
                    "positive": ["6", 0],
                    "negative": ["7", 0],
                    "latent_image": ["5", 0],
                },
            },
            "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
            "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "aiui-bench", "images": ["8", 0]}},
        }

    async def generate(self, width: int, height: int, steps: int) -> None:
        body = {"prompt": self.workflow(width, height, steps), "client_id": uuid.uuid4().hex}
        queued = await self._json("POST", "/prompt", json=body)
        if queued.get("node_errors"):
            raise BenchError(f"ComfyUI refused the workflow: {str(queued['node_errors'])[:200]}", "see ComfyUI's log")
        prompt_id = queued.get("prompt_id")
        if not prompt_id:
            raise BenchError(f"ComfyUI answered without a prompt id: {str(queued)[:200]}", "see ComfyUI's log")
        while True:
            history = await self._json("GET", f"/history/{prompt_id}")
            entry = history.get(prompt_id) if isinstance(history, dict) else None
            if entry:
                status = entry.get("status") or {}
                if status.get("status_str") == "error":
                    raise BenchError(f"ComfyUI failed the prompt: {str(status.get('messages'))[:200]}", "see its log")
                if status.get("completed", True) and entry.get("outputs"):
                    return
            await asyncio.sleep(self.POLL_S)


class FooocusApiClient(Client):
    api = "fooocus-api"

    async def generate(self, width: int, height: int, steps: int) -> None:
        payload = {
            "prompt": PROMPT, "negative_prompt": NEGATIVE, "image_seed": SEED, "image_number": 1,
            "performance_selection": "Speed", "aspect_ratios_selection": f"{width}*{height}",
            "advanced_params": {"overwrite_step": steps, "overwrite_width": width, "overwrite_height": height},
        }  # fmt: skip
        answer = await self._json("POST", "/v1/generation/text-to-image", json=payload)
        if not isinstance(answer, list) or not answer or answer[0].get("finish_reason") not in ("SUCCESS", None):
            raise BenchError(f"Fooocus-API answered without an image: {str(answer)[:200]}", "see the app's log")


CLIENTS = {c.api: c for c in (A1111Client, ComfyClient, FooocusApiClient)}


def require_api(api: str, title: str) -> None:
    """BenchError (with what to do instead) for an app that has no txt2img API we speak."""
    if api not in CLIENTS:
        raise BenchError(
            f"{title} has no HTTP API for generating images, so it cannot be benchmarked here.",
            "benchmark AUTOMATIC1111, Forge or ComfyUI; for Fooocus, "
            'run the Fooocus-API image with a manifest saying api = "fooocus-api"',
        )


def client_for(api: str, title: str, base_url: str, session: aiohttp.ClientSession) -> Client:
    require_api(api, title)
    return CLIENTS[api](base_url, session)


def now() -> float:
    return time.perf_counter()
