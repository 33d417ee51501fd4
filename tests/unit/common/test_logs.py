"""Log lines: JSON with service, agent, call_id and event_id when not on a terminal, text on one."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import uuid
from collections.abc import Iterator

import pytest

from services.common.logs import call_fields, json_wanted, log_context, logging_config


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    yield io.StringIO()
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})  # the root handler goes
    logging.root.handlers.clear()


def test_the_format_follows_the_setting_and_the_terminal() -> None:
    assert json_wanted("json", Terminal()) and not json_wanted("text", io.StringIO())
    assert json_wanted("auto", io.StringIO()) and not json_wanted("auto", Terminal())


def test_a_json_line_about_a_call_carries_its_ids_the_service_and_the_agent(captured: io.StringIO) -> None:
    logging.config.dictConfig(logging_config("router", "INFO", "json"))
    logging.root.handlers[0].setStream(captured)  # type: ignore[attr-defined]
    call_id, event_id = uuid.uuid4(), uuid.uuid4()
    log = logging.getLogger("hotline.test")
    with log_context(agent="router-route-classified"):
        log.info("routing call %s", call_id, extra=call_fields(call_id, event_id))
        with log_context(call_id=call_id):
            log.warning("bound for the block")
    log.info("not about a call")
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert lines[0]["message"] == f"routing call {call_id}"
    assert lines[0]["call_id"] == str(call_id) and lines[0]["event_id"] == str(event_id)
    assert lines[0]["service"] == "router" and lines[0]["agent"] == "router-route-classified"
    assert lines[0]["level"] == "INFO" and lines[0]["logger"] == "hotline.test" and lines[0]["time"]
    assert lines[1]["call_id"] == str(call_id) and lines[1]["level"] == "WARNING"
    assert lines[2]["service"] == "router" and "call_id" not in lines[2] and "agent" not in lines[2]


def test_a_text_line_is_readable_with_its_ids_at_the_end(captured: io.StringIO) -> None:
    logging.config.dictConfig(logging_config("intake", "INFO", "text"))
    logging.root.handlers[0].setStream(captured)  # type: ignore[attr-defined]
    logging.getLogger("hotline.test").info("accepted", extra=call_fields("c-1"))
    line = captured.getvalue().strip()
    assert " INFO intake hotline.test: accepted [call_id=c-1]" in line
    assert not line.startswith("{")


@pytest.mark.parametrize(
    ("trusted", "seen"), [(None, "127.0.0.1"), ("127.0.0.1", "203.0.113.7")], ids=["no-proxy", "trusted-proxy"]
)
def test_x_forwarded_for_is_believed_only_from_the_configured_proxies(trusted: str | None, seen: str) -> None:
    """uvicorn alone trusts X-Forwarded-For from 127.0.0.1: a local client could then pose as any address to the
    console's per-address sign-in throttle. Served with ``proxy_options`` (as ``serve_http`` does), a real uvicorn
    believes the header only when HOTLINE_FORWARDED_ALLOW_IPS names the proxy."""
    import threading

    import httpx
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from hotline.embedded import free_port
    from services.common.logs import proxy_options
    from shared.settings import ServiceSettings

    async def client_address(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.client.host if request.client else "")

    port = free_port()
    settings = ServiceSettings(forwarded_allow_ips=trusted)
    config = uvicorn.Config(
        Starlette(routes=[Route("/", client_address)]),
        host="127.0.0.1",
        port=port,
        log_config=None,
        **proxy_options(settings),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            threading.Event().wait(0.05)
        answer = httpx.get(f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": "203.0.113.7"}, timeout=5)
        assert answer.text == seen
    finally:
        server.should_exit = True
        thread.join(timeout=10)
