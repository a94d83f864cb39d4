"""Output shapes, for the OpenAPI schema only: answers are built from selector rows
(issues/api/documents.py), not by these serializers."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    inline_serializer,
)
from rest_framework import serializers

from issues.models import MessageKind

# --- Output shapes, for the OpenAPI schema (answers are built from selector rows, not by these) ---


class ErrorItemSerializer(serializers.Serializer):
    field = serializers.CharField()
    code = serializers.CharField(help_text="Stable, for programs: required, invalid, ...")
    message = serializers.CharField(help_text="Translated, for people.")


# Every error answer of the project's API has this shape (open137.api.exception_handler; answers a
# view builds itself get the `code` of their status from open137.middleware.ErrorAnswersMiddleware).
# `errors` is a field name DRF's Serializer keeps for itself: the shape is declared inline.
ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "error": serializers.CharField(
            help_text="A sentence for people, in the request's language (Accept-Language), naming the "
            "field at fault."
        ),
        "code": serializers.CharField(
            help_text="Stable, for programs, whatever the language. By status when nothing more precise "
            "applies: invalid (400), not_authenticated (401), permission_denied (403), not_found (404), "
            "method_not_allowed (405), conflict (409), too_large (413), unsupported_media_type (415), "
            "throttled (429), database_unavailable (503, with Retry-After: retry the same request). "
            "More precise ones: parse_error, required, too_many_fields, bad_cursor, page_too_deep, "
            "idempotency_key_reused, not_done, not_closed, already_rated, ..."
        ),
        "detail": serializers.JSONField(required=False, help_text="Messages by field."),
        "errors": ErrorItemSerializer(many=True, required=False, help_text="Each refused field."),
    },
)


class ThrottledSerializer(serializers.Serializer):
    error = serializers.CharField()
    code = serializers.CharField(help_text="throttled")
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
    generated = serializers.BooleanField(
        help_text="A demo report made by `manage.py demo_generate`, not filed by a citizen."
    )


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
    count = serializers.IntegerField(
        help_text="Reports matching the filters, on all pages, counted up to 10,000: with more, "
        "10000 and `count_capped` true (say “10,000+”)."
    )
    count_capped = serializers.BooleanField(
        help_text="True when more than 10,000 reports match: `count` is then a lower bound."
    )
    next = serializers.URLField(
        allow_null=True, help_text="The next page: this request with a `cursor`; null on the last page."
    )
    previous = serializers.URLField(
        allow_null=True, help_text="The page before (by cursor, or by number for a page by number)."
    )
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


class ConflictSerializer(serializers.Serializer):
    error = serializers.CharField()
    code = serializers.CharField(help_text="not_done, not_closed, already_rated, conflict")
    current = serializers.JSONField(help_text="The report's status (and version) now.")


class FeedbackResultSerializer(serializers.Serializer):
    code = serializers.CharField()
    fixed = serializers.BooleanField()
    status = serializers.CharField(help_text="closed after “fixed”, reopened after “not fixed”.")


class RatingResultSerializer(serializers.Serializer):
    code = serializers.CharField()
    score = serializers.IntegerField()
    reasons = serializers.ListField(child=serializers.CharField())


class MessagesStoppedSerializer(serializers.Serializer):
    code = serializers.CharField()
    messages_stopped = serializers.BooleanField()
    changed = serializers.BooleanField(help_text="False when messages were already stopped.")


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


ERRORS = {400: ErrorSerializer}
CODE_PARAM = OpenApiParameter(
    "code",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="Tracking code (any case; dashes and spaces ignored).",
)
