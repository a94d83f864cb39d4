"""Writing Open311 documents as XML or JSON.

GeoReport v2 defines each answer once and lets the client pick the format by the URL's suffix. The
views build plain Python values (dicts, lists, strings, numbers, booleans, None) and this module
writes them:

- JSON as the spec shows it: a list answer (services, requests, errors) is a bare JSON array, not
  wrapped in its root name.
- XML with the spec's element names: the root (`services`, `service_requests`, `errors`, ...) holds
  one element per item (`service`, `request`, `error`, ...); a nested list is a wrapper element whose
  children take the singular name from `LIST_ITEMS` (`attributes` -> `attribute`, `values` ->
  `value`, `formats` -> `format`). Booleans are `true`/`false`, a missing value an empty element.
  The document is UTF-8 with an XML declaration, as the spec requires.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree as ET

import orjson
from django.http import HttpResponse

XML_CONTENT_TYPE = "text/xml; charset=utf-8"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
FORMATS = ("xml", "json")
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

# The element name of one item of each list the spec nests inside an element.
LIST_ITEMS = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "notes": "note",
}

# Characters XML 1.0 cannot carry at all (C0 controls other than tab, newline and carriage return,
# lone surrogates, U+FFFE/U+FFFF): a description pasted from anywhere must not break the document.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _XML_INVALID.sub("", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    elif isinstance(value, list | tuple):
        item_name = LIST_ITEMS.get(element.tag, "item")
        for child in value:
            _fill(ET.SubElement(element, item_name), child)
    else:
        element.text = _text(value)


def xml_document(root: str, item: str | None, data: Any) -> bytes:
    """`data` as `<root>`: a list gives one `<item>` per entry, a dict gives the root's children."""
    element = ET.Element(root)
    if item is not None:
        for entry in data:
            _fill(ET.SubElement(element, item), entry)
    else:
        _fill(element, data)
    return XML_DECLARATION + ET.tostring(element, encoding="unicode").encode()


def json_document(data: Any) -> bytes:
    return orjson.dumps(data)


def render(fmt: str, *, root: str, item: str | None, data: Any, status: int = 200) -> HttpResponse:
    """The answer in the requested format; `item` is None when the document is one object
    (discovery, service definition), else the element name of each entry of the `data` list."""
    if fmt == "json":
        return HttpResponse(json_document(data), status=status, content_type=JSON_CONTENT_TYPE)
    return HttpResponse(xml_document(root, item, data), status=status, content_type=XML_CONTENT_TYPE)


# The stable, machine-readable code of an error, by HTTP status, where the view names none of its
# own. GeoReport v2's `code` is the HTTP status (kept so, as clients expect); this one is an extra
# element, `error_code`, after `description` (see README.md, "Errors").
ERROR_CODES = {
    400: "invalid",
    403: "api_key_invalid",
    404: "not_found",
    413: "too_large",
    429: "throttled",
    503: "database_unavailable",
}


def error_code_for(status: int) -> str:
    return ERROR_CODES.get(status, "error" if status < 500 else "server_error")


def render_errors(
    fmt: str, *, status: int, descriptions: list[str], codes: str | Sequence[str] | None = None
) -> HttpResponse:
    """The spec's error body: `errors` -> `error` (`code`, `description`), one per problem; the code
    is the HTTP status, as in the spec's examples. Each error also carries `error_code`, a stable
    name for programs: one for all (`codes` a string), one per description, or the status's."""
    if fmt not in FORMATS:
        fmt = "xml"  # the spec's required format, for a suffix we do not speak
    if codes is None or isinstance(codes, str):
        codes = [codes or error_code_for(status)] * len(descriptions)
    data = [
        {"code": status, "description": text, "error_code": code}
        for text, code in zip(descriptions, codes, strict=True)
    ]
    return render(fmt, root="errors", item="error", data=data, status=status)
