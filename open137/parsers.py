"""Request bodies of the project's API: JSON that no view can choke on.

DRF's JSONParser turns a syntax error into a 400 but lets everything else through: a body nested a
few thousand levels deep makes Python's parser raise RecursionError (a 500), and one nested a few
hundred levels deep parses but breaks whatever walks it later (orjson stops at 255 levels). A
`"\\ud800"` escape is valid JSON but decodes to half a surrogate pair, text that cannot be encoded,
stored or echoed in a message; a `"\\u0000"` decodes to a NUL, which PostgreSQL cannot store; a
number like 1e400 or 10**30 parses but fits no float or 64-bit integer anything downstream holds.
All of these are refused here with a 400 that says what is wrong and where. A body larger than
DATA_UPLOAD_MAX_MEMORY_SIZE never reaches the parser: Django refuses to read it (RequestDataTooBig,
answered with a 413 by open137.api.exception_handler).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Far deeper than any request of the API needs (attributes: an object of lists, three levels).
MAX_JSON_DEPTH = 32
# What orjson (and PostgreSQL's bigint) can hold; no field of the API needs more.
_INT_RANGE = range(-(2**63), 2**63)


class JSONValueError(ValueError):
    """A JSON text or value that no view can use; the message says what and where."""


class SafeJSONParser(JSONParser):
    """JSONParser whose every failure is a ParseError (400): see the module's docstring."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_too_deep("")) from None
        try:
            json_value_check(data)
        except JSONValueError as exc:
            raise ParseError(str(exc)) from None
        return data


def loads(text: str | bytes) -> Any:
    """json.loads held to the same rules, for JSON that comes inside a field (a multipart form's
    text): JSONValueError (a ValueError) for anything SafeJSONParser would refuse."""
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise JSONValueError(_too_deep("")) from None
    json_value_check(data)
    return data


def json_value_check(data: Any) -> None:
    """JSONValueError for a parsed JSON value nested more than MAX_JSON_DEPTH levels deep, holding
    text (values or keys) with a lone surrogate or a NUL, or a number beyond a float or a 64-bit
    integer. Iterative: a value as deep as the parser allows does not exhaust the stack here."""
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            _text_check(value, path)
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if value not in _INT_RANGE:
                raise JSONValueError(
                    _("JSON parse error - %(where)sa whole number must be within ±9.2e18 (64 bits).")
                    % {"where": _where(path)}
                )
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise JSONValueError(
                    _("JSON parse error - %(where)sa number must be finite and within ±1.8e308.")
                    % {"where": _where(path)}
                )
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise JSONValueError(_too_deep(path))
            if isinstance(value, dict):
                for key, item in value.items():
                    _text_check(key, path)
                    stack.append((item, f"{path}.{_shown(key)}" if path else _shown(key), depth + 1))
            else:
                stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))


def _text_check(text: str, path: str) -> None:
    if "\x00" in text:
        raise JSONValueError(
            _("JSON parse error - %(where)stext must not contain NUL characters (\\u0000).")
            % {"where": _where(path)}
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JSONValueError(
            _(
                "JSON parse error - %(where)stext must be valid Unicode: a \\uD800-\\uDFFF escape must "
                "be one half of a surrogate pair, next to its other half."
            )
            % {"where": _where(path)}
        ) from None


def _no_constant(name: str) -> Any:
    raise JSONValueError(_("JSON parse error - %(name)s is not a JSON value.") % {"name": name})


def _too_deep(path: str) -> str:
    return _("JSON parse error - %(where)snested more than %(n)d levels deep.") % {
        "where": _where(path),
        "n": MAX_JSON_DEPTH,
    }


def _where(path: str) -> str:
    return f"{path}: " if path else ""


def _shown(key: str) -> str:
    """A key as it can be printed in a message: at most 40 characters, surrogates and NULs escaped."""
    return key[:40].replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")
