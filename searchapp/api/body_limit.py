"""Request bodies over a size limit are refused with 413 before they fill a disk.

A declared ``Content-Length`` over the limit is refused at once; a body without one
(chunked) is counted as it arrives and refused when it passes the limit, whatever the
application was about to answer.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class _TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: Any, limit_for: Callable[[Scope], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        state = {"received": 0, "refused": False, "started": False}

        async def counted() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    state["refused"] = True
                    raise _TooLarge
            return message

        async def guarded(message: dict[str, Any]) -> None:
            if state["refused"]:
                return  # the app's answer to a body it could not read is replaced by the 413
            state["started"] = True
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counted, guarded)
        if state["refused"] and not state["started"]:
            await _refuse(send, limit)


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "detail": f"the request body is over this server's limit of {limit // 1_000_000} MB",
            "code": "too_large",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
