"""Signed session cookies (HMAC-SHA256 over a small JSON payload with an expiry and a random session id);
the ids ended by signing out are kept by ``services.console.security.RevokedSessions``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any


def new_session_id() -> str:
    """A random session id (128 bits)."""
    return secrets.token_urlsafe(16)


def sign(payload: dict[str, Any], secret: str, *, max_age_seconds: float, now: float | None = None) -> str:
    """A cookie value carrying ``payload`` until ``max_age_seconds`` from ``now``."""
    body = {**payload, "exp": int((now or time.time()) + max_age_seconds)}
    data = base64.urlsafe_b64encode(json.dumps(body, ensure_ascii=False).encode()).decode().rstrip("=")
    return f"{data}.{_mac(data, secret)}"


def unsign(token: str | None, secret: str, *, now: float | None = None) -> dict[str, Any] | None:
    """The payload of a valid, unexpired cookie value; None otherwise."""
    if not token or "." not in token:
        return None
    data, mac = token.rsplit(".", 1)
    if not hmac.compare_digest(mac, _mac(data, secret)):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    except ValueError:
        return None
    if not isinstance(payload, dict) or payload.get("exp", 0) < (now or time.time()):
        return None
    return payload


def _mac(data: str, secret: str) -> str:
    return hmac.new(secret.encode(), data.encode(), hashlib.sha256).hexdigest()
