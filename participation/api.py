"""Participation in the API, under /api/participation/ (in the OpenAPI schema):

- GET  points/                 the points in service as GeoJSON (bbox, kind filters)
- POST points/<id>/empty/      "it is empty", one tap (each client once per stocking round)
- POST pledges/                "I'll take care of it" on a report: answers the private pledge token once
- POST pledges/done/           the pledger says done       {token}
- POST pledges/withdraw/       the pledger withdraws       {token}
- POST pledges/confirm/        the reporter confirms       {report, token: the reporter's private token}

Tokens travel in JSON bodies, never in URLs. Errors: 400 bad input (nothing written), 403 a private
token not valid for the report, 404 unknown point / report / pledge token, 409 not in a state for it,
429 over the client's limit.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from issues.api.params import conflict, invalid, not_found, private_link_refused
from issues.api.schema import ConflictSerializer, ErrorSerializer, ThrottledSerializer
from issues.selectors import report_by_code, report_private_token_valid
from issues.throttling import WriteThrottleMixin, client_fingerprint
from issues.workflow.services import TransitionConflict
from open137.api import SameSiteWrite
from participation import selectors, services
from participation.models import ParticipationPoint, PointKind
from participation.throttling import PledgeThrottle, PointEmptyThrottle

# --- Schema -------------------------------------------------------------------------------------


class PointPropertiesSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=PointKind.choices)
    name_fa = serializers.CharField()
    name_en = serializers.CharField()
    status = serializers.ChoiceField(choices=["stocked", "empty"])
    url = serializers.CharField(help_text="The point's public page.")


class PointFeatureSerializer(serializers.Serializer):
    type = serializers.CharField(default="Feature")
    id = serializers.IntegerField()
    geometry = serializers.JSONField(help_text='{"type": "Point", "coordinates": [lon, lat]}')
    properties = PointPropertiesSerializer()


class PointCollectionSerializer(serializers.Serializer):
    type = serializers.CharField(default="FeatureCollection")
    features = PointFeatureSerializer(many=True)


class EmptyResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["stocked", "empty"])
    empty_reports = serializers.IntegerField(help_text="Clients who said so since the last restock.")
    added = serializers.BooleanField(help_text="False: this client had already said so.")


class PledgeCreateInput(serializers.Serializer):
    report = serializers.CharField(max_length=40, help_text="The report's tracking code.")
    name = serializers.CharField(
        max_length=services.PLEDGER_NAME_MAX, required=False, allow_blank=True, default=""
    )
    contact = serializers.CharField(
        max_length=services.PLEDGER_CONTACT_MAX,
        required=False,
        allow_blank=True,
        default="",
        help_text="Phone or e-mail; only the 137 centre sees it.",
    )


class PledgeTokenInput(serializers.Serializer):
    token = serializers.CharField(max_length=200, help_text="The private pledge token.")


class PledgeConfirmInput(serializers.Serializer):
    report = serializers.CharField(max_length=40)
    token = serializers.CharField(max_length=200, help_text="The reporter's private token for the report.")


class PledgeSerializer(serializers.Serializer):
    report = serializers.CharField()
    status = serializers.ChoiceField(choices=["active", "done", "confirmed", "withdrawn"])


class PledgeCreatedSerializer(PledgeSerializer):
    token = serializers.CharField(help_text="The private pledge token: shown once, keep it.")
    url = serializers.CharField(help_text="The private pledge page.")


class PledgeConfirmedSerializer(PledgeSerializer):
    report_status = serializers.CharField()


WRITE_ERRORS = {400: ErrorSerializer, 404: ErrorSerializer, 409: ConflictSerializer, 429: ThrottledSerializer}


# --- Views --------------------------------------------------------------------------------------


class PointListApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        operation_id="participation_points_list",
        parameters=[
            OpenApiParameter("bbox", OpenApiTypes.STR, description="min_lon,min_lat,max_lon,max_lat"),
            OpenApiParameter("kind", OpenApiTypes.STR, description="Comma-separated kinds"),
        ],
        responses={200: PointCollectionSerializer, 400: ErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        try:
            bbox = selectors.bbox_parse(request.query_params.get("bbox"))
            kinds = selectors.kinds_parse(request.query_params.get("kind"))
        except selectors.FilterError as exc:
            raise invalid({exc.field: [exc.message]}) from None
        response = Response(selectors.points_geojson(bbox=bbox, kinds=kinds))
        response["Cache-Control"] = "public, max-age=60"
        return response


class PointEmptyApi(WriteThrottleMixin, APIView):
    permission_classes = [AllowAny, SameSiteWrite]
    authentication_classes: list[type] = []
    write_throttle_classes = [PointEmptyThrottle]
    throttle_message = gettext_lazy("Too many “it is empty” requests from your address.")

    @extend_schema(
        operation_id="participation_points_empty",
        request=None,
        responses={200: EmptyResultSerializer, 404: ErrorSerializer, 429: ThrottledSerializer},
    )
    def post(self, request: Request, point_id: int) -> Response:
        try:
            result = services.point_report_empty(point_id=point_id, fingerprint=client_fingerprint(request))
        except ParticipationPoint.DoesNotExist:
            return Response({"error": _("No participation point has this number.")}, status=404)
        return Response(
            {
                "id": result.point.pk,
                "status": result.point.status,
                "empty_reports": result.point.empty_reports,
                "added": result.added,
            }
        )


class _PledgeApi(WriteThrottleMixin, APIView):
    permission_classes = [AllowAny, SameSiteWrite]
    authentication_classes: list[type] = []
    write_throttle_classes = [PledgeThrottle]
    throttle_message = gettext_lazy("Too many pledge requests from your address.")

    def data(self, request: Request, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
        serializer = serializer_class(data=request.data)
        if not serializer.is_valid():
            raise invalid(serializer.errors)
        return dict(serializer.validated_data)


class PledgeCreateApi(_PledgeApi):
    @extend_schema(
        operation_id="participation_pledges_create",
        request=PledgeCreateInput,
        responses={201: PledgeCreatedSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = self.data(request, PledgeCreateInput)
        report = report_by_code(code=data["report"])
        if report is None:
            return not_found(data["report"])
        try:
            created = services.pledge_create(report=report, name=data["name"], contact=data["contact"])
        except TransitionConflict as exc:
            return conflict(exc.message, code=exc.code, current=exc.current)
        return Response(
            {
                "report": report.tracking_code,
                "status": created.pledge.status,
                "token": created.token,
                "url": request.build_absolute_uri(selectors.pledge_private_url(created.token)),
            },
            status=status.HTTP_201_CREATED,
        )


class _PledgeStepApi(_PledgeApi):
    step: Any = None

    def post(self, request: Request) -> Response:
        data = self.data(request, PledgeTokenInput)
        pledge = selectors.pledge_by_token(token=data["token"])
        if pledge is None:
            return Response({"error": _("No pledge has this private link.")}, status=404)
        try:
            pledge = type(self).step(pledge=pledge)
        except TransitionConflict as exc:
            return conflict(exc.message, code=exc.code, current=exc.current)
        return Response({"report": pledge.report.tracking_code, "status": pledge.status})


class PledgeDoneApi(_PledgeStepApi):
    step = staticmethod(services.pledge_done)

    @extend_schema(
        operation_id="participation_pledges_done",
        request=PledgeTokenInput,
        responses={200: PledgeSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class PledgeWithdrawApi(_PledgeStepApi):
    step = staticmethod(services.pledge_withdraw)

    @extend_schema(
        operation_id="participation_pledges_withdraw",
        request=PledgeTokenInput,
        responses={200: PledgeSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class PledgeConfirmApi(_PledgeApi):
    @extend_schema(
        operation_id="participation_pledges_confirm",
        request=PledgeConfirmInput,
        responses={200: PledgeConfirmedSerializer, 403: ErrorSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = self.data(request, PledgeConfirmInput)
        report = report_by_code(code=data["report"])
        if report is None:
            return not_found(data["report"])
        if not report_private_token_valid(report=report, token=data["token"]):
            return private_link_refused()
        pledge = selectors.pledge_live(report=report)
        if pledge is None:
            return conflict(_("No citizen's pledge waits for confirmation on this report."), code="no_pledge")
        try:
            pledge = services.pledge_confirm(pledge=pledge)
        except TransitionConflict as exc:
            return conflict(exc.message, code=exc.code, current=exc.current)
        report.refresh_from_db(fields=["status"])
        return Response(
            {"report": report.tracking_code, "status": pledge.status, "report_status": report.status}
        )
