""" "Me too": the open reports of a category near a point, offered before filing a new one
(`/api/reports/nearby/`), and one more citizen's support of a report (`/api/reports/<code>/support/`)."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from districts.apis import field_error
from districts.selectors import (
    point_from_lat_lon,
)
from geo.coords import CoordinateError
from issues.api.documents import coordinate
from issues.api.params import (
    category_or_400,
    not_found,
)
from issues.api.schema import (
    CODE_PARAM,
    ERRORS,
    ErrorSerializer,
    NearbySerializer,
    SupportResultSerializer,
    ThrottledSerializer,
)
from issues.formats import local_iso
from issues.models import Channel
from issues.selectors import (
    report_by_code,
    report_nearby_open,
)
from issues.services.citizen import report_support
from issues.throttling import (
    ReportSupportThrottle,
    WriteThrottleMixin,
    client_fingerprint,
)
from open137.api import SameSiteWrite


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
