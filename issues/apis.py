"""The project's own report API under /api/: locate, reports (list, create, detail, support, nearby)
and categories. Thin: parse the input, call one service or selector, render.

Public answers never carry the reporter's name, phone or e-mail, nor the private token (that one is
only in the answer to the request that created the report, and to a replay of that very request
with its Idempotency-Key): the selectors they are built from do not read those columns.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

import orjson
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.serializer_helpers import BindingDict
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from districts.apis import field_error, routing_json
from districts.selectors import (
    Routing,
    lat_lon_point,
    point_from_lat_lon,
    route_point,
    swapped_refused_outside,
)
from geo.coords import CoordinateError
from geo.text import normalize_digits
from issues.filters import FilterError, report_filters_parse
from issues.formats import local_iso
from issues.models import OPEN_STATUSES, Category, Channel, MessageKind
from issues.selectors import (
    category_get,
    category_list_public,
    category_routed_get,
    photo_url,
    report_by_code,
    report_list_rows,
    report_nearby_open,
    report_public_get,
    report_tracking_url,
    tracking_code_normalize,
)
from issues.services import MAX_PHOTOS, report_submit, report_support
from issues.throttling import (
    ReportCreateThrottle,
    ReportSupportThrottle,
    WriteThrottleMixin,
    client_fingerprint,
)
from open137.api import AnswersInItsOwnFormat, SameSiteWrite
from open137.parsers import loads as json_loads_checked

PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 1000
IDEMPOTENCY_KEY_MAX = 128


def _coordinate(value: float | None) -> float | None:
    # Six decimals are about 0.1 m: more is noise from the phone, and bytes on the wire.
    return round(value, 6) if value is not None else None


def _messages(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [m for v in value.values() for m in _messages(v)]
    if isinstance(value, list | tuple):
        return [m for v in value for m in _messages(v)]
    return [str(value)]


def _invalid(errors: dict[str, Any]) -> ValidationError:
    """A 400 in the API's shape ({"error": sentence, "detail": {field: [messages]}}) from a
    serializer's errors, whose nested ErrorDetail lists the project handler would print as reprs."""
    detail = {field: _messages(value) for field, value in errors.items()}
    sentence = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in detail.items())
    return ValidationError({"error": sentence, "detail": detail})


def _not_found(code: str) -> Response:
    return Response(
        {"error": _("No report has the tracking code “%(code)s”.") % {"code": code[:40]}},
        status=status.HTTP_404_NOT_FOUND,
    )


def routing_public_json(routing: Routing) -> dict[str, Any]:
    """The stored routing of a report in districts.apis.routing_json's shape, without
    `inside_jurisdiction` (known when routing a point, not stored with the report)."""
    data = routing_json(routing)
    data.pop("inside_jurisdiction", None)
    return data


def report_properties(row: dict[str, Any]) -> dict[str, Any]:
    """The public fields of a report row (from report_list_rows or report_public_get)."""
    return {
        "code": row["tracking_code"],
        "category": row["category__code"],
        "category_name_fa": row["category__name_fa"],
        "category_name_en": row["category__name_en"],
        "kind": row["kind"],
        "status": row["status"],
        "open": row["status"] in OPEN_STATUSES,
        "description": row["description"],
        "district": row["district__code"],
        "service_area": row["service_area__code"],
        "unit_name_fa": row["service_area__unit_name_fa"],
        "unit_name_en": row["service_area__unit_name_en"],
        "support_count": row["support_count"],
        "created_at": local_iso(row["created_at"]),
        "updated_at": local_iso(row["updated_at"]),
    }


def report_detail_json(report: dict[str, Any]) -> dict[str, Any]:
    """One report (from report_public_get) as the detail endpoint returns it."""
    return {
        "id": report["tracking_code"],
        **report_properties(report),
        "address": report["address"],
        "lat": _coordinate(report["lat"]),
        "lon": _coordinate(report["lon"]),
        "expected_at": local_iso(report["expected_at"]),
        "routing": routing_public_json(report["routing"]),
        "photos": report["photos"],
        "timeline": [{**event, "at": local_iso(event["at"])} for event in report["timeline"]],
    }


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
        required=False, allow_blank=True, help_text="Plain text, no HTML; at most 4000 characters."
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


def _idempotency_key(request: Request) -> str | None:
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


def _category_point_routed_or_400(code: str, data: Any) -> tuple[Category, Point | None, Routing | None]:
    """A new report's category, and its point with the point's routing for the category's department
    (None, None without a point), read in one query; a 400 naming the field for an unknown
    category, a point that is not one, or swapped coordinates."""
    lat, lon = data.get("lat"), data.get("lon")
    if lat in (None, "") and lon in (None, "") or "\x00" in code:
        return _category_or_400(code), None, None
    try:
        try:
            latlon, point = lat_lon_point(lat=lat, lon=lon)
        except CoordinateError:
            _category_or_400(code)  # an unknown category is named first, whatever the point
            raise
        found = category_routed_get(code=code, point=point)
        if found is None:
            raise _unknown_category(code)
        category, routing = found
        swapped_refused_outside(latlon=latlon, routing=routing)
    except CoordinateError as exc:
        raise field_error(exc.field, exc.message) from None
    return category, point, routing


class _ReportCreateInput(ReportCreateSerializer):
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


def _category_or_400(code: str) -> Category:
    category = None if "\x00" in code else category_get(code=code)
    if category is None:
        raise _unknown_category(code)
    return category


def _unknown_category(code: str) -> ValidationError:
    return field_error(
        "category", _("Unknown category “%(code)s”.") % {"code": code[:60].replace("\x00", "")}
    )


# --- Output shapes, for the OpenAPI schema (answers are built from selector rows, not by these) ---


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="A sentence for people, naming the field at fault.")
    detail = serializers.JSONField(required=False, help_text="Messages by field.")


class ThrottledSerializer(serializers.Serializer):
    error = serializers.CharField()
    retry_after = serializers.IntegerField(help_text="Seconds; also in the Retry-After header.")
    retry_at = serializers.DateTimeField()


class NamedRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name_fa = serializers.CharField()
    name_en = serializers.CharField()


class DistrictRefSerializer(NamedRefSerializer):
    level = serializers.CharField(help_text="region or sub_district")


class ServiceAreaRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    unit_name_fa = serializers.CharField()
    unit_name_en = serializers.CharField()


class UnitSerializer(serializers.Serializer):
    name_fa = serializers.CharField()
    name_en = serializers.CharField()


class RoutingSerializer(serializers.Serializer):
    district = DistrictRefSerializer(allow_null=True)
    service_area = ServiceAreaRefSerializer(allow_null=True)
    department = NamedRefSerializer(allow_null=True)
    unit = UnitSerializer(allow_null=True)
    rule = serializers.CharField(help_text="covers, nearest, category or triage")
    distance_m = serializers.FloatField(help_text="Distance to the district (rule `nearest`), metres.")


class ReportPropertiesSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Tracking code.")
    category = serializers.CharField()
    category_name_fa = serializers.CharField()
    category_name_en = serializers.CharField()
    kind = serializers.ChoiceField(choices=MessageKind.choices)
    status = serializers.CharField()
    open = serializers.BooleanField()
    description = serializers.CharField()
    district = serializers.CharField(allow_null=True)
    service_area = serializers.CharField(allow_null=True)
    unit_name_fa = serializers.CharField(allow_null=True)
    unit_name_en = serializers.CharField(allow_null=True)
    support_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ReportListPropertiesSerializer(ReportPropertiesSerializer):
    photo_urls = serializers.ListField(child=serializers.CharField())


class PointGeometrySerializer(serializers.Serializer):
    type = serializers.CharField(default="Point")
    coordinates = serializers.ListField(child=serializers.FloatField(), help_text="[lon, lat]")


class ReportFeatureSerializer(serializers.Serializer):
    type = serializers.CharField(default="Feature")
    id = serializers.CharField(help_text="Tracking code.")
    geometry = PointGeometrySerializer(allow_null=True)
    properties = ReportListPropertiesSerializer()


class ReportFeatureCollectionSerializer(serializers.Serializer):
    type = serializers.CharField(default="FeatureCollection")
    count = serializers.IntegerField(help_text="Reports matching the filters, on all pages.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    features = ReportFeatureSerializer(many=True)


class TimelineEventSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField(help_text="created, status, rerouted or note")
    status = serializers.CharField(allow_null=True, help_text="The status after the event.")
    note = serializers.CharField()


class PhotoSerializer(serializers.Serializer):
    url = serializers.CharField()
    kind = serializers.CharField(help_text="report (from the reporter) or work (after the work)")
    width = serializers.IntegerField()
    height = serializers.IntegerField()


class ReportDetailSerializer(ReportPropertiesSerializer):
    id = serializers.CharField(help_text="Tracking code.")
    address = serializers.CharField()
    lat = serializers.FloatField(allow_null=True)
    lon = serializers.FloatField(allow_null=True)
    expected_at = serializers.DateTimeField(allow_null=True)
    routing = RoutingSerializer()
    photos = PhotoSerializer(many=True)
    timeline = TimelineEventSerializer(many=True)


class ReportCreatedSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Tracking code: the citizen's handle on the report.")
    status = serializers.CharField()
    open = serializers.BooleanField()
    category = serializers.CharField()
    kind = serializers.CharField()
    created_at = serializers.DateTimeField()
    routing = RoutingSerializer()
    tracking_url = serializers.URLField()
    private_token = serializers.CharField(
        required=False,
        help_text="Only in the answer that created the report (201) and in a replay of the same request "
        "with the same Idempotency-Key (200).",
    )


class SupportResultSerializer(serializers.Serializer):
    code = serializers.CharField()
    support_count = serializers.IntegerField()
    added = serializers.BooleanField(help_text="False when this client had already supported it.")


class NearbyReportSerializer(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField()
    status = serializers.CharField()
    distance_m = serializers.FloatField()
    support_count = serializers.IntegerField()
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    created_at = serializers.DateTimeField()


class NearbySerializer(serializers.Serializer):
    category = serializers.CharField()
    radius_m = serializers.IntegerField()
    results = NearbyReportSerializer(many=True)


# A field named `required` would shadow the Field attribute of that name: declared inline instead.
CategoryAttributeSerializer = inline_serializer(
    name="CategoryAttribute",
    fields={
        "code": serializers.CharField(),
        "datatype": serializers.CharField(),
        "required": serializers.BooleanField(),
        "description_fa": serializers.CharField(),
        "description_en": serializers.CharField(),
        "values": serializers.JSONField(help_text='[{"key": ..., "name_fa": ..., "name_en": ...}]'),
        "order": serializers.IntegerField(),
    },
    many=True,
)


class CategorySerializer(serializers.Serializer):
    code = serializers.CharField()
    name_fa = serializers.CharField()
    name_en = serializers.CharField()
    description_fa = serializers.CharField()
    description_en = serializers.CharField()
    kind = serializers.CharField()
    location_required = serializers.BooleanField()
    icon = serializers.CharField()
    duplicate_radius_m = serializers.IntegerField()
    department = NamedRefSerializer()
    attributes = CategoryAttributeSerializer


_ERRORS = {400: ErrorSerializer}
_CODE = OpenApiParameter(
    "code",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="Tracking code (any case; dashes and spaces ignored).",
)


# --- Views -----------------------------------------------------------------------------------------


class LocateApi(APIView):
    """Which district, service area and unit would take a report at this point."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "lat", OpenApiTypes.NUMBER, required=True, description="Latitude, WGS 84 degrees"
            ),
            OpenApiParameter(
                "lon", OpenApiTypes.NUMBER, required=True, description="Longitude, WGS 84 degrees"
            ),
            OpenApiParameter(
                "category", OpenApiTypes.STR, description="Category code: adds the department's unit"
            ),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        try:
            point = point_from_lat_lon(
                lat=request.query_params.get("lat"), lon=request.query_params.get("lon")
            )
        except CoordinateError as exc:
            raise field_error(exc.field, exc.message) from None
        department_id = None
        code = request.query_params.get("category")
        if code:
            # PostgreSQL text cannot hold a NUL byte: such a code names no category (and must not
            # reach the query, where it would be a server error rather than a 400).
            category = _category_or_400(code)
            department_id = category.department_id
        routing = route_point(point=point, department_id=department_id)
        return Response({"lat": point.y, "lon": point.x, **routing_json(routing)})


def _page_param(request: Request, name: str, default: int, maximum: int) -> int:
    raw = normalize_digits(request.query_params.get(name, "") or "").strip()
    if not raw:
        return default
    # isdecimal, not isdigit: "²" is a digit Python's int() cannot read; the length cap keeps int()
    # away from numbers thousands of digits long.
    if not raw.isdecimal() or len(raw) > 9 or not 1 <= int(raw) <= maximum:
        raise field_error(name, _("must be a whole number from 1 to %(max)d.") % {"max": maximum})
    return int(raw)


class ReportListCreateApi(WriteThrottleMixin, APIView):
    """GET: the public reports as a GeoJSON FeatureCollection, filtered and paginated.
    POST: a new report (JSON or multipart with photos), routed at once."""

    permission_classes = [AllowAny, SameSiteWrite]
    authentication_classes: list[type] = []
    # The list is written as GeoJSON by get() itself; a new report's answer is JSON for apps, and the
    # browsable renderer's negotiation cost every citizen's POST more than its use in development.
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnswersInItsOwnFormat
    write_throttle_classes = [ReportCreateThrottle]
    throttle_message = gettext_lazy("Too many reports sent from your address.")

    @extend_schema(
        operation_id="reports_list",
        parameters=[
            OpenApiParameter("bbox", OpenApiTypes.STR, description="minLon,minLat,maxLon,maxLat (WGS 84)"),
            OpenApiParameter(
                "status", OpenApiTypes.STR, description="Comma list of statuses, or `open` / `closed`"
            ),
            OpenApiParameter("category", OpenApiTypes.STR, description="Comma list of category codes"),
            OpenApiParameter(
                "district",
                OpenApiTypes.STR,
                description="District code (a region includes its sub-districts)",
            ),
            OpenApiParameter("kind", OpenApiTypes.STR, description="Comma list of message kinds"),
            OpenApiParameter(
                "since",
                OpenApiTypes.STR,
                description="Created at or after: ISO date or date-time, or Jalali date (1405-09-07, Persian digits too)",
            ),
            OpenApiParameter(
                "until", OpenApiTypes.STR, description="Created at or before (a date: the whole day)"
            ),
            OpenApiParameter(
                "q",
                OpenApiTypes.STR,
                description="Words in the description (Persian spelling variants match)",
            ),
            OpenApiParameter("page", OpenApiTypes.INT, description="From 1"),
            OpenApiParameter(
                "page_size",
                OpenApiTypes.INT,
                description=f"Default {PAGE_SIZE_DEFAULT}, at most {PAGE_SIZE_MAX}",
            ),
        ],
        responses={
            (200, "application/geo+json"): ReportFeatureCollectionSerializer,
            (400, "application/json"): ErrorSerializer,
        },
    )
    def get(self, request: Request) -> HttpResponse:
        try:
            filters = report_filters_parse(request.query_params)
        except FilterError as exc:
            raise field_error(exc.field, exc.message) from None
        page = _page_param(request, "page", 1, 10_000_000)
        page_size = _page_param(request, "page_size", PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX)
        rows = report_list_rows(filters=filters)
        count = rows.count()
        start = (page - 1) * page_size
        features = [
            {
                "type": "Feature",
                "id": row["tracking_code"],
                "geometry": {
                    "type": "Point",
                    "coordinates": [_coordinate(row["lon"]), _coordinate(row["lat"])],
                }
                if row["lon"] is not None
                else None,
                "properties": {
                    **report_properties(row),
                    "photo_urls": [photo_url(name) for name in row["photo_names"] or ()],
                },
            }
            for row in (rows[start : start + page_size] if start < count else [])
        ]
        url = request.build_absolute_uri()
        body = {
            "type": "FeatureCollection",
            "count": count,
            "next": replace_query_param(url, "page", page + 1) if start + page_size < count else None,
            "previous": (
                (replace_query_param(url, "page", page - 1) if page > 2 else remove_query_param(url, "page"))
                if page > 1
                else None
            ),
            "features": features,
        }
        response = HttpResponse(orjson.dumps(body), content_type="application/geo+json")
        response["Cache-Control"] = "public, max-age=30"
        return response

    @extend_schema(
        operation_id="reports_create",
        request={
            "application/json": ReportCreateSerializer,
            "multipart/form-data": ReportCreateSerializer,
        },
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="A retry with the same key returns the same report (200) instead of a second one.",
            )
        ],
        responses={
            201: ReportCreatedSerializer,
            200: OpenApiResponse(ReportCreatedSerializer, description="A replay of an Idempotency-Key."),
            400: ErrorSerializer,
            422: OpenApiResponse(
                ErrorSerializer, description="Idempotency-Key already used for another report."
            ),
            429: ThrottledSerializer,
        },
        examples=[
            OpenApiExample(
                "A pothole",
                request_only=True,
                value={"category": "pothole", "lat": 36.2675, "lon": 50.0075, "description": "چاله عمیق"},
            )
        ],
    )
    def post(self, request: Request) -> HttpResponse:
        serializer = _ReportCreateInput(data=request.data)
        if not serializer.is_valid():
            raise _invalid(serializer.errors)
        data = serializer.validated_data
        idempotency_key = _idempotency_key(request)
        category, location, routing = _category_point_routed_or_400(data["category"], request.data)
        try:
            submission = report_submit(
                category=category,
                location=location,
                routing=routing,
                description=data.get("description", ""),
                kind=data.get("kind") or "",
                channel=Channel.API,
                address=data.get("address", ""),
                reporter_name=data.get("name", ""),
                reporter_phone=data.get("phone", ""),
                reporter_email=data.get("email", ""),
                consent_contact=data.get("consent_contact", False),
                attributes=data.get("attributes") or {},
                photos=data.get("photos") or (),
                idempotency_key=idempotency_key,
            )
        except DjangoValidationError as exc:
            if hasattr(exc, "error_dict") and "idempotency_key" in exc.error_dict:
                messages = [str(m) for m in exc.message_dict["idempotency_key"]]
                return Response(
                    {
                        "error": f"Idempotency-Key: {' '.join(messages)}",
                        "detail": {"Idempotency-Key": messages},
                    },
                    status=status.HTTP_422_UNPROCESSABLE_ENTITY,
                )
            raise
        report = submission.report
        routing = submission.routing
        if routing is None:  # a replay: the routing stored with the report
            stored = report_public_get(code=report.tracking_code, history=False)
            assert stored is not None  # found by its idempotency key
            routing = stored["routing"]
        code = report.tracking_code
        body: dict[str, Any] = {
            "code": code,
            "status": report.status,
            "open": report.status in OPEN_STATUSES,
            "category": category.code,
            "kind": report.kind,
            "created_at": local_iso(report.created_at),
            "routing": routing_public_json(routing),
            "tracking_url": request.build_absolute_uri(report_tracking_url(code=code)),
        }
        if submission.private_token:
            # Also on a replay of the same submission: the first answer may never have arrived.
            body["private_token"] = submission.private_token
        headers = {"Location": request.build_absolute_uri(reverse("api:report-detail", args=[code]))}
        if not submission.created:
            headers["Idempotent-Replayed"] = "true"
        # Written with orjson like the list: DRF's renderer took a tenth of a citizen's POST.
        return HttpResponse(
            orjson.dumps(body),
            content_type="application/json",
            status=status.HTTP_201_CREATED if submission.created else status.HTTP_200_OK,
            headers=headers,
        )


class ReportDetailApi(APIView):
    """One report with its public timeline and photos."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        operation_id="reports_detail",
        parameters=[_CODE],
        responses={200: ReportDetailSerializer, 404: ErrorSerializer},
    )
    def get(self, request: Request, code: str) -> Response:
        report = report_public_get(code=code)
        if report is None:
            return _not_found(code)
        return Response(report_detail_json(report))


class ReportSupportApi(WriteThrottleMixin, APIView):
    """ "Me too": one more citizen has the same problem; each client counts once."""

    permission_classes = [AllowAny, SameSiteWrite]
    authentication_classes: list[type] = []
    write_throttle_classes = [ReportSupportThrottle]
    throttle_message = gettext_lazy("Too many “me too” requests from your address.")

    @extend_schema(
        operation_id="reports_support",
        request=None,
        parameters=[_CODE],
        responses={
            200: SupportResultSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            429: ThrottledSerializer,
        },
    )
    def post(self, request: Request, code: str) -> Response:
        report = report_by_code(code=code)
        if report is None:
            return _not_found(code)
        # Closed reports are refused by the service (a ValidationError: 400 with its message).
        report, added = report_support(
            report=report, fingerprint=client_fingerprint(request), channel=Channel.API
        )
        return Response({"code": report.tracking_code, "support_count": report.support_count, "added": added})


class ReportNearbyApi(APIView):
    """Open reports of a category near a point, within the category's duplicate radius: offered to
    a citizen to support ("me too") before filing a new report."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        operation_id="reports_nearby",
        parameters=[
            OpenApiParameter("lat", OpenApiTypes.NUMBER, required=True),
            OpenApiParameter("lon", OpenApiTypes.NUMBER, required=True),
            OpenApiParameter("category", OpenApiTypes.STR, required=True, description="Category code"),
        ],
        responses={200: NearbySerializer, **_ERRORS},
    )
    def get(self, request: Request) -> Response:
        code = request.query_params.get("category") or ""
        if not code:
            raise field_error("category", _("category is required."))
        category = _category_or_400(code)
        try:
            point = point_from_lat_lon(
                lat=request.query_params.get("lat"), lon=request.query_params.get("lon")
            )
        except CoordinateError as exc:
            raise field_error(exc.field, exc.message) from None
        rows = report_nearby_open(category=category, point=point)
        results = [
            {
                **row,
                "lat": _coordinate(row["lat"]),
                "lon": _coordinate(row["lon"]),
                "created_at": local_iso(row["created_at"]),
            }
            for row in rows
        ]
        return Response(
            {"category": category.code, "radius_m": category.duplicate_radius_m, "results": results}
        )


class CategoryListApi(APIView):
    """The active categories (what can be reported), with department and extra questions."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(operation_id="categories_list", responses={200: CategorySerializer(many=True)})
    def get(self, request: Request) -> Response:
        response = Response(category_list_public())
        response["Cache-Control"] = "public, max-age=300"
        return response


__all__ = [
    "CategoryListApi",
    "LocateApi",
    "ReportDetailApi",
    "ReportListCreateApi",
    "ReportNearbyApi",
    "ReportSupportApi",
    "report_detail_json",
    "report_properties",
    "routing_public_json",
    "tracking_code_normalize",
]
