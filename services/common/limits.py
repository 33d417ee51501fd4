"""Request limits enforced before anything parses a body: its size (413) and its type (415).

An ASGI middleware, so a 50 MB body is refused on its ``Content-Length`` (or, when the client streams it
without one, as soon as more than ``max_bytes`` arrived: such a body is read here, bounded, and handed on)
and never read whole or parsed. Intake's JSON API takes JSON under ``/v1/`` (``json_under``), the console
urlencoded forms (``form_only``). The limits are ``HOTLINE_INTAKE_MAX_REQUEST_BYTES`` and
``HOTLINE_CONSOLE_MAX_REQUEST_BYTES``; docs/operations.md says how to size them.
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


TypeRule = Callable[[str, str], str | None]
"""(path, Content-Type) -> why the body's type is refused (415), or None when it is accepted."""

FORM = "application/x-www-form-urlencoded"


def media_type(content_type: str) -> str:
    """The media type of a Content-Type header, parameters (charset) aside, lower case."""
    return content_type.split(";", 1)[0].strip().lower()


def is_json(content_type: str) -> bool:
    """``application/json`` or a ``+json`` type, parameters (charset) aside."""
    media = media_type(content_type)
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def json_under(prefix: str) -> TypeRule:
    """Bodies under ``prefix`` must be JSON; others are not checked."""

    def rule(path: str, content_type: str) -> str | None:
        if path.startswith(prefix) and not is_json(content_type):
            return f"the body must be JSON (Content-Type: application/json), not {content_type or 'untyped'}"
        return None

    return rule


def form_only(_path: str, content_type: str) -> str | None:
    """Every body must be an urlencoded form (what the console's pages post)."""
    if media_type(content_type) != FORM:
        return f"the body must be a form (Content-Type: {FORM}), not {content_type or 'untyped'}"
    return None


class RequestLimits:
    """Refuse bodies over ``max_bytes`` (413, naming ``setting``) and bodies ``types`` refuses (415)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, setting: str, types: TypeRule) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.setting = setting
        self.types = types

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
        refused_type = self.types(scope["path"], headers.get("content-type", "")) if has_body else None
        if refused_type:
            await _answer(send, 415, refused_type)
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
        return f"the body has {length} bytes; at most {self.max_bytes} are accepted ({self.setting})"


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
