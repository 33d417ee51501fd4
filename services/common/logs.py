"""How every Hotline process logs: one line per record, JSON for machines, readable text in a terminal.

``HOTLINE_LOG_FORMAT`` (``ServiceSettings.log_format``): ``json`` (one JSON object per line, by
python-json-logger), ``text`` (``time LEVEL service logger: message [call_id=… event_id=…]``) or ``auto``
(the default: text when standard error is a terminal, JSON otherwise — so `docker logs` and log shippers
get JSON, a developer's terminal gets text).

Every line carries ``service``; a line about a call carries ``call_id`` (and ``event_id`` when one event is
meant) and, inside a faust agent, ``agent``. Fields come from ``log_context`` (a context manager binding them
for the code it wraps, request or batch) or from ``extra=call_fields(...)`` on one call to the logger.
"""

from __future__ import annotations

import contextlib
import logging
import logging.config
import sys
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS

from shared.settings import ServiceSettings

CONTEXT_FIELDS = ("agent", "call_id", "event_id")
_context: ContextVar[dict[str, str] | None] = ContextVar("hotline_log_context", default=None)


def call_fields(call_id: uuid.UUID | str | None = None, event_id: uuid.UUID | str | None = None) -> dict[str, str]:
    """``extra=`` for one log line about a call (and one of its events)."""
    fields = {"call_id": call_id, "event_id": event_id}
    return {key: str(value) for key, value in fields.items() if value is not None}


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Bind ``agent`` / ``call_id`` / ``event_id`` to every line logged inside the block (this task only)."""
    bound = {key: str(value) for key, value in fields.items() if value is not None and key in CONTEXT_FIELDS}
    token = _context.set({**(_context.get() or {}), **bound})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Puts ``service`` and the bound context on each record (an ``extra=`` value wins over the context)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        _readable_args(record)
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        present = [f"{key}={getattr(record, key)}" for key in CONTEXT_FIELDS if getattr(record, key, None)]
        record.context_text = f" [{' '.join(present)}]" if present else ""
        return True


def _readable_args(record: logging.LogRecord) -> None:
    """The arguments faust and mode log (partition sets, subscriptions) as the tables they print in a terminal:
    mode's registered argument formatters, as its own log formatter applies them."""
    from mode.utils.logging import ExtensionFormatter

    global _mode_formatter
    if _mode_formatter is None:
        _mode_formatter = ExtensionFormatter()
    if isinstance(record.args, dict):
        record.args = {key: _mode_formatter.format_arg(value, record) for key, value in record.args.items()}
    elif isinstance(record.args, tuple) and record.args:
        record.args = tuple(_mode_formatter.format_arg(arg, record) for arg in record.args)


_mode_formatter: Any = None


def json_wanted(log_format: str, stream: Any = None) -> bool:
    """Whether lines should be JSON: asked for, or ``auto`` and ``stream`` (standard error) is no terminal."""
    if log_format == "json":
        return True
    if log_format == "text":
        return False
    stream = sys.stderr if stream is None else stream
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return True


def logging_config(service: str, level: str, log_format: str = "auto") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` configuration: one handler on standard error, JSON or text."""
    formatter: dict[str, Any]
    if json_wanted(log_format):
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "reserved_attrs": [*RESERVED_ATTRS, "context_text", "color_message"],
            "timestamp": "time",  # ISO 8601, UTC
        }
    else:
        formatter = {"format": "%(asctime)s %(levelname)s %(service)s %(name)s: %(message)s%(context_text)s"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter, "service": service}},
        "formatters": {"hotline": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "hotline",
                "filters": ["context"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        # uvicorn's loggers propagate to the root handler instead of their own
        "loggers": {
            name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure_logging(service: str, settings: ServiceSettings) -> None:
    """Configure this process's logging from ``HOTLINE_LOG_LEVEL`` and ``HOTLINE_LOG_FORMAT`` (an HTTP
    service's entry point, before ``uvicorn.run(..., log_config=None)``; faust workers hand the same
    configuration to faust's ``Worker``)."""
    logging.config.dictConfig(logging_config(service, settings.log_level, settings.log_format))


def serve_http(service: str, settings: ServiceSettings, create_app: Callable[[], Any], *, host: str, port: int) -> None:
    """Configure logging as this module says, then build the app and run it with uvicorn (no access log: the
    Prometheus metrics count the requests)."""
    import uvicorn

    from services.common.tracing import setup_tracing

    configure_logging(service, settings)
    setup_tracing(service, settings.otlp_endpoint)
    app = create_app()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
        **proxy_options(settings),
    )


def proxy_options(settings: ServiceSettings) -> dict[str, Any]:
    """uvicorn's proxy-header options: X-Forwarded-For is believed only from ``HOTLINE_FORWARDED_ALLOW_IPS``.

    uvicorn's own default trusts it from 127.0.0.1, so any local client could name another address and walk
    past the console's per-address sign-in throttle; unset, Hotline trusts no proxy."""
    if not settings.forwarded_allow_ips:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips}
