"""The project's own report API under /api/: locate, reports (list, create, detail, support, nearby,
and the reporter's feedback, rating and stop-messages with their private token) and categories.
Thin: parse the input, call one service or selector, render.

Public answers never carry the reporter's name, phone or e-mail, nor the private token (that one is
only in the answer to the request that created the report, and to a replay of that very request
with its Idempotency-Key): the selectors they are built from do not read those columns.
"""

from __future__ import annotations

from typing import Any

import orjson
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
    extend_schema_view,
)
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from districts.apis import field_error, routing_json
from districts.selectors import (
    point_from_lat_lon,
    route_point,
)
from geo.coords import CoordinateError
from issues.api.documents import coordinate, report_detail_json, report_properties, routing_public_json
from issues.api.params import (
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    FeedbackInput,
    PrivateTokenInput,
    RatingInput,
    ReportCreateInput,
    ReportCreateSerializer,
    category_or_400,
    category_point_routed_or_400,
    conflict,
    cursor_url,
    idempotency_key_read,
    invalid,
    list_paging,
    not_found,
    private_link_refused,
)
from issues.api.schema import (
    CODE_PARAM,
    ERRORS,
    CategorySerializer,
    ConflictSerializer,
    ErrorSerializer,
    FeedbackResultSerializer,
    MessagesStoppedSerializer,
    NearbySerializer,
    RatingResultSerializer,
    ReportCreatedSerializer,
    ReportDetailSerializer,
    ReportFeatureCollectionSerializer,
    SupportResultSerializer,
    ThrottledSerializer,
)
from issues.filters import FilterError, report_filters_parse
from issues.formats import local_iso
from issues.models import OPEN_STATUSES, Channel, Report
from issues.selectors import (
    category_list_public,
    photo_url,
    report_by_code,
    report_list_page,
    report_nearby_open,
    report_private_token_valid,
    report_public_get,
    report_tracking_url,
)
from issues.services.citizen import report_support
from issues.services.submission import report_submit
from issues.throttling import (
    ReportCreateThrottle,
    ReportSupportThrottle,
    ReportUpdateThrottle,
    WriteThrottleMixin,
    client_fingerprint,
)
from issues.workflow.citizen import report_citizen_confirm, report_messages_stop, report_rate
from issues.workflow.services import TransitionConflict
from open137.api import AnswersInItsOwnFormat, SameSiteWrite

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
            category = category_or_400(code)
            department_id = category.department_id
        routing = route_point(point=point, department_id=department_id)
        return Response({"lat": point.y, "lon": point.x, **routing_json(routing)})


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
            OpenApiParameter(
                "cursor",
                OpenApiTypes.STR,
                description="Opaque: the position a `next` or `previous` link carries. Pages by cursor "
                "cost the same at any depth. Not with `page`; one that is not ours is 400 `bad_cursor`.",
            ),
            OpenApiParameter(
                "page",
                OpenApiTypes.INT,
                description="From 1, for the first 10,000 reports (page × page_size ≤ 10,000; deeper is "
                "400 `page_too_deep`: follow `next`). Its `next` link goes on by cursor.",
            ),
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
        cursor, page, page_size = list_paging(request)
        listed = report_list_page(
            filters=filters, cursor=cursor, offset=(page - 1) * page_size, limit=page_size
        )
        features = [
            {
                "type": "Feature",
                "id": row["tracking_code"],
                "geometry": {
                    "type": "Point",
                    "coordinates": [coordinate(row["lon"]), coordinate(row["lat"])],
                }
                if row["lon"] is not None
                else None,
                "properties": {
                    **report_properties(row),
                    "photo_urls": [photo_url(name) for name in row["photo_names"] or ()],
                },
            }
            for row in listed.rows
        ]
        url = remove_query_param(request.build_absolute_uri(), "page")
        previous: str | None
        if page > 1:
            previous = replace_query_param(url, "page", page - 1) if page > 2 else url
        else:
            previous = cursor_url(url, listed.previous)
        body = {
            "type": "FeatureCollection",
            "count": listed.count,
            "count_capped": listed.count_capped,
            "next": cursor_url(url, listed.next),
            "previous": previous,
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
        serializer = ReportCreateInput(data=request.data)
        if not serializer.is_valid():
            raise invalid(serializer.errors)
        data = serializer.validated_data
        idempotency_key = idempotency_key_read(request)
        category, location, routing = category_point_routed_or_400(data["category"], request.data)
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
        parameters=[CODE_PARAM],
        responses={200: ReportDetailSerializer, 404: ErrorSerializer},
    )
    def get(self, request: Request, code: str) -> Response:
        report = report_public_get(code=code)
        if report is None:
            return not_found(code)
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
        parameters=[CODE_PARAM],
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
            return not_found(code)
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
        responses={200: NearbySerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        code = request.query_params.get("category") or ""
        if not code:
            raise field_error("category", _("category is required."))
        category = category_or_400(code)
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
                "lat": coordinate(row["lat"]),
                "lon": coordinate(row["lon"]),
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


# --- The reporter's private link ---------------------------------------------------------------


class PrivateLinkApi(WriteThrottleMixin, APIView):
    """A write by the reporter with their private token (the `t` of the private link), as on the
    tracking page: the token is checked before anything else (403), then the per-address limit on
    these writes (429), then the values (400), then whether the report is in a state for it (409).
    Each endpoint names its input and what it does (`act`)."""

    permission_classes = [AllowAny, SameSiteWrite]
    authentication_classes: list[type] = []
    write_throttle_classes = [ReportUpdateThrottle]
    throttle_message = gettext_lazy("Too many changes through private links from your address.")
    input_class: type[PrivateTokenInput] = PrivateTokenInput
    _token_checked = False

    def check_throttles(self, request: Request) -> None:
        # DRF checks the limits before the view runs; here they wait for the token (see post).
        if self._token_checked:
            super().check_throttles(request)

    def act(self, report: Report, data: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def post(self, request: Request, code: str) -> Response:
        report = report_by_code(code=code)
        if report is None:
            return not_found(code)
        token = request.data.get("token") if hasattr(request.data, "get") else None
        if not isinstance(token, str) or not report_private_token_valid(report=report, token=token):
            return private_link_refused()
        self._token_checked = True
        self.check_throttles(request)
        serializer = self.input_class(data=request.data)
        if not serializer.is_valid():
            raise invalid(serializer.errors)
        try:
            body = self.act(report, dict(serializer.validated_data))
        except TransitionConflict as exc:
            return conflict(exc.message, code=exc.code, current=exc.current)
        return Response({"code": report.tracking_code, **body})


def _private_schema(operation_id: str, request: type, response: type) -> Any:
    return extend_schema_view(
        post=extend_schema(
            operation_id=operation_id,
            request=request,
            parameters=[CODE_PARAM],
            responses={
                200: response,
                400: ErrorSerializer,
                403: ErrorSerializer,
                404: ErrorSerializer,
                409: ConflictSerializer,
                429: ThrottledSerializer,
            },
        )
    )


@_private_schema("reports_feedback", FeedbackInput, FeedbackResultSerializer)
class ReportFeedbackApi(PrivateLinkApi):
    """The reporter says whether the unit's work fixed the problem: fixed closes the report (it is
    verified by the reporter), not fixed reopens it and sends it back to the unit. 409 before the
    unit reports the work done."""

    input_class = FeedbackInput

    def act(self, report: Report, data: dict[str, Any]) -> dict[str, Any]:
        confirmation = report_citizen_confirm(report=report, fixed=data["fixed"], note=data["note"])
        return {"fixed": data["fixed"], "status": confirmation.report.status}


@_private_schema("reports_rating", RatingInput, RatingResultSerializer)
class ReportRatingApi(PrivateLinkApi):
    """The reporter rates the service once the report is closed: a score from 1 to 5, reasons and a
    comment, once per report (409 the second time, and before the report is closed)."""

    input_class = RatingInput

    def act(self, report: Report, data: dict[str, Any]) -> dict[str, Any]:
        try:
            rating = report_rate(
                report=report, score=data["score"], reasons=data["reasons"], comment=data["comment"]
            )
        except DjangoValidationError as exc:
            if getattr(exc, "code", None) != "already_rated":
                raise
            raise TransitionConflict(
                " ".join(exc.messages), code="already_rated", current={"status": report.status}
            ) from None
        return {"score": rating.score, "reasons": rating.reasons}


@_private_schema("reports_stop_messages", PrivateTokenInput, MessagesStoppedSerializer)
class ReportStopMessagesApi(PrivateLinkApi):
    """The reporter wants no more SMS or e-mail about this report (asking again changes nothing)."""

    def act(self, report: Report, data: dict[str, Any]) -> dict[str, Any]:
        return {"messages_stopped": True, "changed": report_messages_stop(report=report)}
