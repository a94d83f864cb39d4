"""The references the API measures (bench/measures/api.py) compare the project with; served only by
the bench server (bench/urls.py), never by the project.

- `ReferenceReportListView`: the report list as one would first write it with djangorestframework-gis:
  a `ListAPIView` over the Report model with `select_related` and a prefetch of the public photos,
  rendered by a `GeoFeatureModelSerializer` with the same public fields as `GET /api/reports/`, paged by
  drf-gis's `GeoJsonPagination`.
- `bare_insert`: the least a Django view can do to store a report: parse the JSON body and run one
  INSERT (autocommit) into a small table of its own, `BARE_TABLE`.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework_gis.pagination import GeoJsonPagination
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from bench.fields import REPORT_PROPERTIES
from geo.srid import GEO_SRID
from issues.models import OPEN_STATUSES, Report, ReportPhoto

BARE_TABLE = "bench_bare_report"
# A report reduced to what a citizen sends, with the point indexed as the project's is.
BARE_TABLE_SQL = f"""
CREATE TABLE IF NOT EXISTS {BARE_TABLE} (
    id bigserial PRIMARY KEY,
    category varchar(60) NOT NULL,
    description text NOT NULL,
    location geometry(Point, {GEO_SRID}),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS {BARE_TABLE}_location ON {BARE_TABLE} USING gist (location)"""
_BARE_INSERT_SQL = f"""INSERT INTO {BARE_TABLE} (category, description, location)
    VALUES (%s, %s, ST_SetSRID(ST_MakePoint(%s, %s), {GEO_SRID})) RETURNING id"""


class ReferenceReportSerializer(GeoFeatureModelSerializer):
    """The public fields of `GET /api/reports/` (issues.api.documents.report_properties and photo_urls)."""

    code = serializers.CharField(source="tracking_code")
    category = serializers.CharField(source="category.code")
    category_name_fa = serializers.CharField(source="category.name_fa")
    category_name_en = serializers.CharField(source="category.name_en")
    open = serializers.SerializerMethodField()
    district = serializers.CharField(source="district.code", allow_null=True)
    service_area = serializers.CharField(source="service_area.code", allow_null=True)
    unit_name_fa = serializers.CharField(source="service_area.unit_name_fa", allow_null=True)
    unit_name_en = serializers.CharField(source="service_area.unit_name_en", allow_null=True)
    photo_urls = serializers.SerializerMethodField()

    class Meta:
        model = Report
        geo_field = "location"
        id_field = "tracking_code"
        fields = ("tracking_code", "location", *REPORT_PROPERTIES, "created_at", "updated_at")

    def get_open(self, report: Report) -> bool:
        return report.status in OPEN_STATUSES

    def get_photo_urls(self, report: Any) -> list[str]:
        return [photo.image.url for photo in report.public_photos]


class ReferencePagination(GeoJsonPagination):
    page_size = 100
    max_page_size = 1000


class ReferenceReportListView(ListAPIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    serializer_class = ReferenceReportSerializer
    pagination_class = ReferencePagination

    def get_queryset(self) -> QuerySet[Report]:
        return (
            Report.objects.select_related("category", "district", "service_area")
            .prefetch_related(
                Prefetch(
                    "photos",
                    queryset=ReportPhoto.objects.filter(public=True).order_by("created_at", "id"),
                    to_attr="public_photos",
                )
            )
            .order_by("-created_at", "-id")
        )


@csrf_exempt
@require_POST
def bare_insert(request: HttpRequest) -> HttpResponse:
    data = json.loads(request.body)
    with connection.cursor() as cursor:
        cursor.execute(
            _BARE_INSERT_SQL,
            [str(data["category"]), str(data.get("description", "")), float(data["lon"]), float(data["lat"])],
        )
        (row_id,) = cursor.fetchone()
    return JsonResponse({"id": row_id}, status=201)


# The transition measure's reference: a view that reads a JSON body and changes one row's status by
# its code, one UPDATE in autocommit, nothing else (no authentication, scope or history).
BARE_UPDATE_TABLE = "bench_bare_update"
BARE_UPDATE_TABLE_SQL = f"""CREATE TABLE IF NOT EXISTS {BARE_UPDATE_TABLE} (
    code varchar(16) PRIMARY KEY, status varchar(24) NOT NULL, version integer NOT NULL DEFAULT 1)"""
_BARE_UPDATE_SQL = (
    f"UPDATE {BARE_UPDATE_TABLE} SET status = %s, version = version + 1 WHERE code = %s RETURNING version"
)


@csrf_exempt
@require_POST
def bare_update(request: HttpRequest, code: str) -> HttpResponse:
    data = json.loads(request.body)
    with connection.cursor() as cursor:
        cursor.execute(
            _BARE_UPDATE_SQL, ["acknowledged" if data.get("action") == "acknowledge" else "x", code]
        )
        row = cursor.fetchone()
    if row is None:
        return JsonResponse({"error": "no such row"}, status=404)
    return JsonResponse({"code": code, "status": "acknowledged", "version": row[0]})
