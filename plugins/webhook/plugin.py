"""The webhook plugin: one JSON POST per event.

Settings (config/plugins/webhook.toml):
    enabled = true
    url = "https://example.org/hooks/aiui"          # required
    events = ["download.finished", "app.crashed"]   # optional; default: every event
    secret = "..."                                  # optional; signs the body (X-Aiui-Signature)
    timeout_s = 5                                   # optional; per POST

The body is `{"event": NAME, "at": UNIX_TIME, "data": {...}, "source": "aiui-tui"}`. With a secret,
the header `X-Aiui-Signature: sha256=HEX` is the HMAC-SHA256 of the body with it. A receiver that
is down or answers an error is logged as a warning; the event is not retried.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

from aiui_tui.plugins import EVENT_NAMES, hookimpl


@hookimpl
async def aiui_on_event(event, context):
    url = context.settings.get("url")
    if not url:
        context.log.warning("webhook: no url set", fix="set url in config/plugins/webhook.toml")
        return
    wanted = context.settings.get("events") or EVENT_NAMES
    if event.name not in wanted:
        return
    import aiohttp  # here, not at import: enabling the plugin must not slow every command's start

    body = json.dumps({**event.to_json(), "source": "aiui-tui"}, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "aiui-tui-webhook/1.0"}
    secret = context.settings.get("secret")
    if secret:
        digest = hmac.new(str(secret).encode(), body, hashlib.sha256).hexdigest()
        headers["X-Aiui-Signature"] = f"sha256={digest}"
    timeout = aiohttp.ClientTimeout(total=float(context.settings.get("timeout_s", 5)) * 0.9)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, data=body, headers=headers) as r,
        ):
            if r.status >= 400:
                context.log.warning("webhook: receiver answered an error", status=r.status, hook_event=event.name)
            else:
                context.log.info("webhook: sent", hook_event=event.name, status=r.status)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        context.log.warning("webhook: receiver unreachable", hook_event=event.name, reason=str(exc)[:200])
