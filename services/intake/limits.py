"""Request limits enforced before anything parses a body: its size (413) and, on the JSON API, its type (415).

An ASGI middleware, so a 50 MB body is refused on its ``Content-Length`` (or, when the client streams it
without one, as soon as more than ``max_bytes`` arrived: such a body is read here, bounded, and handed on)
and never read whole or parsed. The limit is
``HOTLINE_INTAKE_MAX_REQUEST_BYTES``; docs/operations.md says how to size it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def is_json(content_type: str) -> bool:
    """``application/json`` or a ``+json`` type, parameters (charset) aside."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class RequestLimits:
    """Refuse bodies over ``max_bytes`` (413) and, under ``json_prefix``, bodies that are not JSON (415)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, json_prefix: str = "/v1/") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.json_prefix = json_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WITH_BODY:
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        length = headers.get("content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > self.max_bytes):
            await _answer(send, 413, self._too_large(length))
            return
        has_body = length is None or int(length) > 0
        content_type = headers.get("content-type", "")
        if scope["path"].startswith(self.json_prefix) and has_body and not is_json(content_type):
            detail = f"the body must be JSON (Content-Type: application/json), not {content_type or 'untyped'}"
            await _answer(send, 415, detail)
            return
        if length is None:  # streamed without a length: read it here, at most max_bytes, then hand it on
            body = await self._read_bounded(receive)
            if body is None:
                await _answer(send, 413, self._too_large(f"more than {self.max_bytes}"))
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _read_bounded(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _too_large(self, length: str) -> str:
        return f"the body has {length} bytes; at most {self.max_bytes} are accepted (HOTLINE_INTAKE_MAX_REQUEST_BYTES)"


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives ``body`` once, then what the client sends next (a disconnect)."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
