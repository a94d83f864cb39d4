"""Shapes for the OpenAPI schema only: answers are built from selector rows and service results
(issues/staff_api/documents.py), not by these serializers."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers

from issues.api.schema import (
    ErrorItemSerializer,
    PhotoSerializer,
    PointGeometrySerializer,
    ReportPropertiesSerializer,
    ThrottledSerializer,
)
from issues.models import ReportStatus, Role
from issues.workflow.inbox import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send it as `Authorization: Token <token>`.")
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)


class StaffErrorItemSerializer(ErrorItemSerializer):
    code = serializers.CharField(help_text="Stable, for programs: required, invalid, unknown_action, ...")


# Fields named `errors` and `data` would shadow the Serializer attributes of those names: these two
# shapes are declared inline.
StaffErrorSerializer = inline_serializer(
    name="StaffError",
    fields={
        "error": serializers.CharField(help_text="A sentence for people (in the request's language)."),
        "code": serializers.CharField(
            help_text="Stable, for programs: e.g. invalid_credentials, not_staff, not_authenticated, "
            "no_report_access, role_forbidden, not_found, conflict, unknown_action, required, invalid."
        ),
        "detail": serializers.JSONField(required=False, help_text="Messages by field."),
        "errors": StaffErrorItemSerializer(many=True, required=False, help_text="Each refused field."),
    },
)


class CurrentStateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ReportStatus.choices)
    version = serializers.IntegerField()


class StaffConflictSerializer(serializers.Serializer):
    error = serializers.CharField()
    code = serializers.CharField(help_text="conflict")
    current = CurrentStateSerializer(help_text="The report as it is now: reload, then try again.")


class StaffThrottledSerializer(ThrottledSerializer):
    code = serializers.CharField(help_text="throttled")


class ContactSerializer(serializers.Serializer):
    name = serializers.CharField()
    phone = serializers.CharField()
    email = serializers.CharField()
    consent_contact = serializers.BooleanField()


class StaffReportPropertiesSerializer(ReportPropertiesSerializer):
    """The public report's fields (`service_area`: the unit's code, null in 137 triage) and the
    staff's own."""

    version = serializers.IntegerField(help_text="Send it back with an action to detect a conflict.")
    channel = serializers.CharField()
    address = serializers.CharField()
    district_name_fa = serializers.CharField(allow_null=True)
    district_name_en = serializers.CharField(allow_null=True)
    assigned = serializers.CharField(allow_null=True, help_text="Username of the staff it is assigned to.")
    acknowledge_due_at = serializers.DateTimeField(allow_null=True, help_text="Acknowledge deadline.")
    expected_at = serializers.DateTimeField(allow_null=True, help_text="Resolve deadline.")
    overdue = serializers.BooleanField(help_text="Open and past a deadline.")
    contact = ContactSerializer(required=False, help_text="Only for 137 operators and supervisors.")


class StaffReportFeatureSerializer(serializers.Serializer):
    type = serializers.CharField(default="Feature")
    id = serializers.CharField()
    geometry = PointGeometrySerializer(allow_null=True)
    properties = StaffReportPropertiesSerializer()


class StaffReportCollectionSerializer(serializers.Serializer):
    type = serializers.CharField(default="FeatureCollection")
    next = serializers.URLField(allow_null=True, help_text="The next page; null on the last.")
    features = StaffReportFeatureSerializer(many=True)


StaffEventSerializer = inline_serializer(
    name="StaffEvent",
    fields={
        "id": serializers.IntegerField(),
        "at": serializers.DateTimeField(),
        "kind": serializers.CharField(help_text="created, status, note, assigned, rerouted, ..."),
        "from_status": serializers.CharField(allow_null=True),
        "to_status": serializers.CharField(allow_null=True),
        "note": serializers.CharField(),
        "public": serializers.BooleanField(help_text="On the citizen's timeline."),
        "actor": serializers.CharField(allow_null=True, help_text="Username, or the process that acted."),
        "data": serializers.JSONField(help_text="What the step recorded: the units of a transfer, ..."),
    },
)


class StaffReportDetailSerializer(StaffReportPropertiesSerializer):
    lat = serializers.FloatField(allow_null=True)
    lon = serializers.FloatField(allow_null=True)
    duplicate_of = serializers.CharField(allow_null=True)
    referred_to = serializers.CharField(allow_null=True)
    attributes = serializers.JSONField()
    photos = PhotoSerializer(many=True)
    timeline = serializers.ListField(
        child=StaffEventSerializer, help_text="Every event, internal ones too, oldest first."
    )
    actions = serializers.ListField(
        child=serializers.CharField(), help_text="What this user may do to the report now."
    )


class ActionResultSerializer(serializers.Serializer):
    code = serializers.CharField()
    status = serializers.ChoiceField(choices=ReportStatus.choices)
    version = serializers.IntegerField()
    event = StaffEventSerializer
    actions = serializers.ListField(child=serializers.CharField(), help_text="What may be done next.")


CODE_PARAM = OpenApiParameter(
    "code",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="Tracking code (any case; dashes and spaces ignored).",
)
LIST_PARAMS = [
    OpenApiParameter("status", OpenApiTypes.STR, description="Comma list of statuses, or `open` / `closed`"),
    OpenApiParameter("category", OpenApiTypes.STR, description="Comma list of category codes"),
    OpenApiParameter(
        "district", OpenApiTypes.STR, description="District code (a region includes its sub-districts)"
    ),
    OpenApiParameter("kind", OpenApiTypes.STR, description="Comma list of message kinds"),
    OpenApiParameter("bbox", OpenApiTypes.STR, description="minLon,minLat,maxLon,maxLat (WGS 84)"),
    OpenApiParameter(
        "since", OpenApiTypes.STR, description="Created at or after: ISO date or date-time, or Jalali date"
    ),
    OpenApiParameter("until", OpenApiTypes.STR, description="Created at or before (a date: the whole day)"),
    OpenApiParameter("q", OpenApiTypes.STR, description="Words in the description"),
    OpenApiParameter("unit", OpenApiTypes.STR, description="Comma list of unit (service area) codes"),
    OpenApiParameter("overdue", OpenApiTypes.BOOL, description="Only open reports past a deadline"),
    OpenApiParameter("triage", OpenApiTypes.BOOL, description="Only reports without a unit (137 triage)"),
    OpenApiParameter("mine", OpenApiTypes.BOOL, description="Only reports assigned to me"),
    OpenApiParameter("cursor", OpenApiTypes.STR, description="From the previous page's `next`"),
    OpenApiParameter(
        "page_size", OpenApiTypes.INT, description=f"Default {PAGE_SIZE_DEFAULT}, at most {PAGE_SIZE_MAX}"
    ),
]
