"""Stand-in servers speaking the txt2img APIs of AUTOMATIC1111, ComfyUI and Fooocus-API: the request
and response shapes of the real ones, checked strictly, with a generation time proportional to steps."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
import uuid

from aiohttp import web

PNG_1PX = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
    )
).decode()
SECONDS_PER_STEP = 0.004


def _bad(text: str) -> web.Response:
    return web.json_response({"detail": text}, status=422)


def a1111_app(requests: list) -> web.Application:
    async def options(_r: web.Request) -> web.Response:
        return web.json_response({"sd_model_checkpoint": "sd_xl_base_1.0.safetensors [31e35c80fc]"})

    async def txt2img(request: web.Request) -> web.Response:
        body = await request.json()
        requests.append(body)
        for key, kind in (("prompt", str), ("steps", int), ("width", int), ("height", int), ("seed", int)):
            if not isinstance(body.get(key), kind):
                return _bad(f"{key} missing or not {kind.__name__}")
        await asyncio.sleep(body["steps"] * SECONDS_PER_STEP)
        info = {"prompt": body["prompt"], "seed": body["seed"], "width": body["width"], "height": body["height"]}
        return web.json_response({"images": [PNG_1PX], "parameters": body, "info": json.dumps(info)})

    app = web.Application()
    app.router.add_get("/sdapi/v1/options", options)
    app.router.add_post("/sdapi/v1/txt2img", txt2img)
    return app


COMFY_NODES = {"CheckpointLoaderSimple", "CLIPTextEncode", "EmptyLatentImage", "KSampler", "VAEDecode", "SaveImage"}


def comfy_app(requests: list, checkpoints: list[str] | None = None, fail: bool = False) -> web.Application:
    done_at: dict[str, float] = {}
    counter = itertools.count(1)

    async def object_info(_r: web.Request) -> web.Response:
        names = ["sdxl.safetensors"] if checkpoints is None else checkpoints
        return web.json_response({"CheckpointLoaderSimple": {"input": {"required": {"ckpt_name": [names, {}]}}}})

    async def prompt(request: web.Request) -> web.Response:
        body = await request.json()
        requests.append(body)
        graph = body.get("prompt")
        if not isinstance(graph, dict) or not isinstance(body.get("client_id"), str):
            return web.json_response({"error": "bad body", "node_errors": {}}, status=400)
        errors = {}
        for node_id, node in graph.items():
            if node.get("class_type") not in COMFY_NODES:
                errors[node_id] = f"unknown class {node.get('class_type')}"
            for value in node.get("inputs", {}).values():
                if isinstance(value, list) and (len(value) != 2 or str(value[0]) not in graph):
                    errors[node_id] = f"bad link {value}"
        if errors:
            return web.json_response({"error": "invalid prompt", "node_errors": errors}, status=400)
        sampler = next(n for n in graph.values() if n["class_type"] == "KSampler")
        prompt_id = str(uuid.uuid4())
        done_at[prompt_id] = time.monotonic() + sampler["inputs"]["steps"] * SECONDS_PER_STEP
        return web.json_response({"prompt_id": prompt_id, "number": next(counter), "node_errors": {}})

    async def history(request: web.Request) -> web.Response:
        prompt_id = request.match_info["id"]
        if prompt_id not in done_at or time.monotonic() < done_at[prompt_id]:
            return web.json_response({})
        status = {"status_str": "error" if fail else "success", "completed": not fail, "messages": []}
        outputs = (
            {}
            if fail
            else {"9": {"images": [{"filename": "aiui-bench_00001_.png", "subfolder": "", "type": "output"}]}}
        )
        return web.json_response({prompt_id: {"prompt": [], "outputs": outputs, "status": status}})

    app = web.Application()
    app.router.add_get("/object_info/CheckpointLoaderSimple", object_info)
    app.router.add_post("/prompt", prompt)
    app.router.add_get("/history/{id}", history)
    return app


def fooocus_api_app(requests: list) -> web.Application:
    async def generate(request: web.Request) -> web.Response:
        body = await request.json()
        requests.append(body)
        steps = (body.get("advanced_params") or {}).get("overwrite_step", 30)
        await asyncio.sleep(steps * SECONDS_PER_STEP)
        return web.json_response([{"base64": None, "url": "/files/x.png", "seed": "1", "finish_reason": "SUCCESS"}])

    app = web.Application()
    app.router.add_post("/v1/generation/text-to-image", generate)
    return app
