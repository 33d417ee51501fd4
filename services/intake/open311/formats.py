"""Open311 answers in JSON and XML (built with ``xml.etree.ElementTree``, UTF-8), and the standard's errors.

JSON follows the standard's own examples: the XML root is dropped, a list of elements becomes an array
(``[{...}, ...]``); XML keeps the element names (``<services><service>``, ``<service_requests><request>``,
``<errors><error>``). Booleans are ``true``/``false`` in both; a missing value is ``null`` in JSON and an
empty element in XML.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from fastapi.responses import Response

from services.intake.open311.mapping import Service

Format = Literal["json", "xml"]
FORMATS: tuple[Format, ...] = ("json", "xml")
MEDIA_TYPES: dict[Format, str] = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


class Open311Error(Exception):
    """An Open311 error answer: HTTP 400, 403 or 404 with one or more ``{code, description}``."""

    def __init__(self, status: int, *descriptions: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions
        self.headers = dict(headers or {})


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
"""Characters XML 1.0 cannot carry (ElementTree writes them as they are, and the document is then not
well-formed): replaced by U+FFFD, so an answer parses whatever text a case holds."""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("\ufffd", str(value))


def _append(parent: ET.Element, tag: str, value: Any, item_tags: Mapping[str, str]) -> None:
    element = ET.SubElement(parent, tag)
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _append(element, key, inner, item_tags)
    elif isinstance(value, list | tuple):
        for inner in value:
            _append(element, item_tags[tag], inner, item_tags)
    else:
        element.text = _text(value)


def xml_document(root: str, item: str | None, body: Any, item_tags: Mapping[str, str] | None = None) -> bytes:
    """``body`` (a list of mappings under ``<root><item>``, or one mapping under ``<root>``) as UTF-8 XML."""
    tags = dict(item_tags or {})
    element = ET.Element(root)
    if item is None:
        for key, value in body.items():
            _append(element, key, value, tags)
    else:
        for entry in body:
            _append(element, item, entry, tags)
    ET.indent(element)
    return XML_DECLARATION + ET.tostring(element, encoding="unicode").encode("utf-8") + b"\n"


def render(
    fmt: Format,
    root: str,
    item: str | None,
    body: Any,
    *,
    status: int = 200,
    item_tags: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The answer in ``fmt``: JSON as the standard's arrays, XML under ``root`` (items as ``item``)."""
    if fmt == "xml":
        content = xml_document(root, item, body, item_tags)
    else:
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
    return Response(content, status_code=status, media_type=MEDIA_TYPES[fmt], headers=dict(headers or {}))


def error_response(fmt: Format, error: Open311Error) -> Response:
    """``[{"code", "description"}]`` in JSON, ``<errors><error><code/><description/></error></errors>`` in XML."""
    errors = [{"code": error.status, "description": d} for d in error.descriptions]
    return render(fmt, "errors", "error", errors, status=error.status, headers=error.headers)


def service_entry(service: Service, service_type: str) -> dict[str, Any]:
    return {
        "service_code": service.code,
        "service_name": service.name,
        "description": service.description,
        "metadata": service.metadata,
        "type": service_type,
        "keywords": ", ".join(service.keywords),
        "group": service.group,
    }


def service_definition(service: Service) -> dict[str, Any]:
    return {
        "service_code": service.code,
        "attributes": [
            {
                "variable": attribute.variable,
                "code": attribute.code,
                "datatype": attribute.datatype,
                "required": attribute.required,
                "datatype_description": attribute.datatype_description or None,
                "order": attribute.order,
                "description": attribute.description,
                **(
                    {"values": [{"key": key, "name": name} for key, name in attribute.values]}
                    if attribute.values
                    else {}
                ),
            }
            for attribute in service.attributes
        ],
    }


DEFINITION_ITEM_TAGS = {"attributes": "attribute", "values": "value"}


def services_response(fmt: Format, services: Sequence[Service], service_type: str) -> Response:
    return render(fmt, "services", "service", [service_entry(s, service_type) for s in services])


def definition_response(fmt: Format, service: Service) -> Response:
    return render(fmt, "service_definition", None, service_definition(service), item_tags=DEFINITION_ITEM_TAGS)


def requests_response(fmt: Format, requests: Sequence[Mapping[str, Any]], *, status: int = 200) -> Response:
    return render(fmt, "service_requests", "request", list(requests), status=status)
