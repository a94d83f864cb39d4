"""The reports themselves: the public list (GeoJSON, filtered, paginated) and a new report
(`/api/reports/`), and one report with its public timeline and photos (`/api/reports/<code>/`).

Public answers never carry the reporter's name, phone or e-mail, nor the private token (that one is
only in the answer to the request that created the report, and to a replay of that very request
with its Idempotency-Key): the selectors they are built from do not read those columns.
"""

from typing import Any

import orjson
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from districts.apis import field_error
from issues.api.documents import coordinate, report_detail_json, report_properties, routing_public_json
from issues.api.params import (
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    ReportCreateInput,
    ReportCreateSerializer,
    category_point_routed_or_400,
    cursor_url,
    idempotency_key_read,
    invalid,
    list_paging,
    not_found,
)
from issues.api.schema import (
    CODE_PARAM,
    ErrorSerializer,
    ReportCreatedSerializer,
    ReportDetailSerializer,
    ReportFeatureCollectionSerializer,
    ThrottledSerializer,
)
from issues.filters import FilterError, report_filters_parse
from issues.formats import local_iso
from issues.models import OPEN_STATUSES, Channel
from issues.selectors import (
    photo_url,
    report_list_page,
    report_public_get,
    report_tracking_url,
)
from issues.services.submission import report_submit
from issues.throttling import (
    ReportCreateThrottle,
    WriteThrottleMixin,
)
from open137.api import AnswersInItsOwnFormat, SameSiteWrite


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
