"""Reading the report API's input: coordinates, the new report's fields, paging, the
Idempotency-Key header; a 400 in the API's shape for anything else."""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

import orjson
from django.contrib.gis.geos import Point
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.serializer_helpers import BindingDict
from rest_framework.utils.urls import remove_query_param, replace_query_param

from districts.apis import field_error
from districts.selectors import (
    Routing,
    lat_lon_point,
    swapped_refused_outside,
)
from geo.coords import CoordinateError
from geo.text import normalize_digits
from issues.cursor import OFFSET_MAX, CursorError, PageCursor, cursor_decode, cursor_encode
from issues.models import Category, MessageKind, SatisfactionRating
from issues.selectors import (
    category_get,
    category_routed_get,
)
from issues.services.submission import MAX_PHOTOS
from open137.parsers import loads as json_loads_checked

PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 1000
IDEMPOTENCY_KEY_MAX = 128


def coordinate(value: float | None) -> float | None:
    # Six decimals are about 0.1 m: more is noise from the phone, and bytes on the wire.
    return round(value, 6) if value is not None else None


def messages(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [m for v in value.values() for m in messages(v)]
    if isinstance(value, list | tuple):
        return [m for v in value for m in messages(v)]
    return [str(value)]


def invalid(errors: dict[str, Any]) -> ValidationError:
    """A 400 in the API's shape ({"error": sentence, "detail": {field: [messages]}}) from a
    serializer's errors, whose nested ErrorDetail lists the project handler would print as reprs."""
    detail = {field: messages(value) for field, value in errors.items()}
    sentence = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in detail.items())
    return ValidationError({"error": sentence, "detail": detail})


def not_found(code: str) -> Response:
    return Response(
        {"error": _("No report has the tracking code “%(code)s”.") % {"code": code[:40]}},
        status=status.HTTP_404_NOT_FOUND,
    )


def private_link_refused() -> Response:
    return Response(
        {"error": _("This private link is not valid for this report.")}, status=status.HTTP_403_FORBIDDEN
    )


def conflict(message: str, *, code: str, current: dict[str, Any] | None = None) -> Response:
    """A 409: the report is not (or no longer) in a state for this request; `current` says where."""
    return Response(
        {"error": message, "code": code, "current": current or {}}, status=status.HTTP_409_CONFLICT
    )


# --- Input -----------------------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.NUMBER)
class CoordinateField(serializers.Field):
    """Passed through as sent: geo.coords parses numbers and text (Persian digits, `٫` decimal
    separator) and gives the precise message, including the swapped latitude/longitude case."""

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field({"type": "object", "additionalProperties": True})
class AttributesField(serializers.Field):
    """Answers to the category's extra questions: a JSON object, or its text in a multipart form."""

    default_error_messages = {
        # DRF formats these with str.format: braces are doubled.
        "invalid": gettext_lazy('attributes must be a JSON object, e.g. {{"depth": "deep"}}.'),
        "too_big": gettext_lazy("attributes is too large."),
    }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, str):
            if len(data) > 20_000:
                self.fail("too_big")
            try:
                data = json_loads_checked(data) if data.strip() else {}
            except ValueError:
                self.fail("invalid")
        if not isinstance(data, dict):
            self.fail("invalid")
        try:
            size = len(orjson.dumps(data))
        except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits: no answer is one
            self.fail("invalid")
        if len(data) > 100 or size > 20_000:
            self.fail("too_big")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class ReportCreateSerializer(serializers.Serializer):
    category = serializers.CharField(max_length=60, help_text="Category code (see /api/categories/).")
    lat = CoordinateField(
        required=False, allow_null=True, help_text="Latitude, WGS 84 degrees; omit both for no location."
    )
    lon = CoordinateField(required=False, allow_null=True, help_text="Longitude, WGS 84 degrees.")
    kind = serializers.ChoiceField(
        choices=MessageKind.choices,
        required=False,
        allow_blank=True,
        help_text="Default: the category's kind.",
    )
    # The values are checked by the service (issues.validation), with the web form's and Open311's
    # rules and messages; the serializer only reads the input's shape.
    description = serializers.CharField(
        required=False, allow_blank=True, help_text="Text, kept as sent (not HTML); at most 4000 characters."
    )
    address = serializers.CharField(required=False, allow_blank=True, help_text="At most 300 characters.")
    name = serializers.CharField(required=False, allow_blank=True, help_text="Private.")
    phone = serializers.CharField(
        required=False, allow_blank=True, help_text="Private. 7 to 15 digits, optionally with a leading +."
    )
    email = serializers.CharField(required=False, allow_blank=True, help_text="Private. An e-mail address.")
    consent_contact = serializers.BooleanField(required=False, default=False)
    attributes = AttributesField(required=False, help_text="Answers to the category's attributes, by code.")
    photos = serializers.ListField(
        child=serializers.FileField(allow_empty_file=False),
        required=False,
        max_length=MAX_PHOTOS,
        help_text="Up to 3 images (multipart only).",
    )


class PrivateTokenInput(serializers.Serializer):
    token = serializers.CharField(
        max_length=200, help_text="The reporter's private token: the `t` of their private link."
    )


class FeedbackInput(PrivateTokenInput):
    fixed = serializers.BooleanField(help_text="Whether the unit's work fixed the problem.")
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=1000,
        help_text="Public, on the report's timeline. Plain text, at most 1000 characters.",
    )


class RatingInput(PrivateTokenInput):
    score = serializers.IntegerField(min_value=1, max_value=5, help_text="1 (very dissatisfied) to 5.")
    reasons = serializers.ListField(
        child=serializers.ChoiceField(choices=SatisfactionRating.Reason.choices),
        required=False,
        default=list,
        max_length=len(SatisfactionRating.Reason.choices),
        help_text="What the rating is about.",
    )
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="Plain text, at most 2000 characters; not public.",
    )


def idempotency_key_read(request: Request) -> str | None:
    """The client's `Idempotency-Key`, any 1 to 128 visible ASCII characters. report_submit stores it
    in the API's own namespace (`api:<key>`), so a key that looks like another entrance's
    (`open311:1:x`) is just a key: it never meets that entrance's reports."""
    raw = request.META.get("HTTP_IDEMPOTENCY_KEY")  # not request.headers, which copies every header
    if raw is None:
        return None
    # The IETF draft sends it as a structured-field string: "abc"; a bare token works as well.
    key = raw.strip().strip('"')
    if not key or len(key) > IDEMPOTENCY_KEY_MAX or not all(33 <= ord(ch) <= 126 for ch in key):
        raise field_error(
            "Idempotency-Key",
            _("must be 1 to %(n)d visible ASCII characters (a UUID is a good choice).")
            % {"n": IDEMPOTENCY_KEY_MAX},
        )
    return key


def category_point_routed_or_400(code: str, data: Any) -> tuple[Category, Point | None, Routing | None]:
    """A new report's category, and its point with the point's routing for the category's department
    (None, None without a point), read in one query; a 400 naming the field for an unknown
    category, a point that is not one, or swapped coordinates."""
    lat, lon = data.get("lat"), data.get("lon")
    if lat in (None, "") and lon in (None, "") or "\x00" in code:
        return category_or_400(code), None, None
    try:
        try:
            latlon, point = lat_lon_point(lat=lat, lon=lon)
        except CoordinateError:
            category_or_400(code)  # an unknown category is named first, whatever the point
            raise
        found = category_routed_get(code=code, point=point)
        if found is None:
            raise unknown_category(code)
        category, routing = found
        swapped_refused_outside(latlon=latlon, routing=routing)
    except CoordinateError as exc:
        raise field_error(exc.field, exc.message) from None
    return category, point, routing


class ReportCreateInput(ReportCreateSerializer):
    """ReportCreateSerializer reading a POST with its fields built once per process: the fields hold
    no state of a request, and building them (a deep copy of every declared field) cost a tenth of
    a citizen's report. The schema keeps documenting ReportCreateSerializer itself."""

    _shared_fields: ClassVar[BindingDict | None] = None

    @cached_property
    def fields(self) -> BindingDict:  # type: ignore[override]
        cls = type(self)
        if cls._shared_fields is None:
            cls._shared_fields = ReportCreateSerializer().fields
        return cls._shared_fields


def category_or_400(code: str) -> Category:
    category = None if "\x00" in code else category_get(code=code)
    if category is None:
        raise unknown_category(code)
    return category


def unknown_category(code: str) -> ValidationError:
    return field_error(
        "category", _("Unknown category “%(code)s”.") % {"code": code[:60].replace("\x00", "")}
    )


def list_paging(request: Request) -> tuple[PageCursor | None, int, int]:
    """(cursor, page, page_size) of a list request. Pages by number stop at OFFSET_MAX reports, where
    an offset starts costing what it skips; the `next` links carry a cursor, which goes anywhere at
    the cost of one page. A cursor that is not ours is a 400 with the code `bad_cursor`."""
    page = page_param(request, "page", 1, 10_000_000)
    page_size = page_param(request, "page_size", PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX)
    raw = request.query_params.get("cursor", "")
    if not raw:
        cursor = None
    else:
        if "page" in request.query_params:
            raise coded_error("cursor", _("use either page or cursor, not both."), code="cursor_with_page")
        try:
            cursor = cursor_decode(raw.strip())
        except CursorError as exc:
            raise coded_error("cursor", exc.message, code=exc.code) from None
    if (page - 1) * page_size + page_size > OFFSET_MAX:
        raise coded_error(
            "page",
            _(
                "pages by number reach the first %(n)d reports only; follow the `next` link of a page "
                "(it carries a cursor) to go further."
            )
            % {"n": OFFSET_MAX},
            code="page_too_deep",
        )
    return cursor, page, page_size


def coded_error(field: str, message: str, *, code: str) -> ValidationError:
    """A 400 in the API's shape with a machine-readable `code` as well."""
    return ValidationError({"error": f"{field}: {message}", "code": code, "detail": {field: [message]}})


def cursor_url(url: str, cursor: PageCursor | None) -> str | None:
    """`url` with `cursor` in place of any page or cursor it had; None without a cursor."""
    if cursor is None:
        return None
    return replace_query_param(remove_query_param(url, "page"), "cursor", cursor_encode(cursor))


def page_param(request: Request, name: str, default: int, maximum: int) -> int:
    raw = normalize_digits(request.query_params.get(name, "") or "").strip()
    if not raw:
        return default
    # isdecimal, not isdigit: "²" is a digit Python's int() cannot read; the length cap keeps int()
    # away from numbers thousands of digits long.
    if not raw.isdecimal() or len(raw) > 9 or not 1 <= int(raw) <= maximum:
        raise field_error(name, _("must be a whole number from 1 to %(max)d.") % {"max": maximum})
    return int(raw)
