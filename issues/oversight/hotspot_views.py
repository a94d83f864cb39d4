"""GET /api/hotspots/: places where one category recurs (issues.oversight.hotspots), as GeoJSON
points. Thin: parse, call the selector, answer; public and cacheable like the heatmap."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from districts.apis import field_error
from geo.text import normalize_digits
from issues.api.schema import ErrorSerializer
from issues.filters import FilterError, report_filters_parse
from issues.oversight.hotspots import (
    MIN_REPORTS_RANGE,
    RADIUS_M_RANGE,
    Hotspot,
    HotspotParameterError,
    hotspot_list,
    hotspot_parameters_check,
    hotspot_settings,
    hotspot_window,
)
from issues.oversight.views import FILTER_PARAMETERS, cacheable_response
from open137.api import AnswersInItsOwnFormat


def hotspot_feature(hotspot: Hotspot) -> dict[str, Any]:
    """One hotspot as a GeoJSON Feature: a point at its centre and its public numbers (tracking
    codes are public; no contact detail is ever read)."""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [hotspot.lon, hotspot.lat]},
        "properties": {
            "category": hotspot.category,
            "count": hotspot.count,
            "spread_m": hotspot.spread_m,
            "district": hotspot.district,
            "first_at": hotspot.first_at.isoformat(timespec="seconds"),
            "last_at": hotspot.last_at.isoformat(timespec="seconds"),
            "codes": list(hotspot.codes),
            "generated": hotspot.generated,
        },
    }


def _whole(params: Mapping[str, str], name: str) -> int | None:
    raw = normalize_digits(params.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdecimal() or len(raw) > 6:
        raise HotspotParameterError(name, _("must be a whole number."))
    return int(raw)


def _metres(params: Mapping[str, str], name: str) -> float | None:
    raw = normalize_digits(params.get(name) or "").replace("٫", ".").strip()
    if not raw:
        return None
    try:
        value = float(raw) if raw.isascii() and len(raw) <= 20 else float("nan")
    except ValueError:
        value = float("nan")
    if value != value:
        raise HotspotParameterError(name, _("must be a number of metres."))
    return value


class HotspotApi(APIView):
    """GET /api/hotspots/: places where one category recurs, as a GeoJSON FeatureCollection."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnswersInItsOwnFormat

    @extend_schema(
        operation_id="hotspots",
        summary="Places where one category of problem recurs",
        description=(
            "Clusters of at least `min_reports` reports of one category, each within `radius_m` metres "
            "of the next (PostGIS ST_ClusterDBSCAN, in metres), created in the window: from `since`, or "
            "`days` days, up to `until` (or now). A GeoJSON FeatureCollection of points (each cluster's "
            "centre) with `category`, `count`, `spread_m` (radius of the circle around its reports), "
            "`district`, `first_at`, `last_at`, `codes` (tracking codes of its latest reports) and "
            "`generated` (how many are demo-generated). The largest first. Filters as "
            "`/api/reports/`; status: every one but `duplicate` unless given."
        ),
        parameters=[
            OpenApiParameter(
                "min_reports",
                OpenApiTypes.INT,
                description=f"Reports a hotspot has at least, {MIN_REPORTS_RANGE[0]} to {MIN_REPORTS_RANGE[1]} (default 5)",
            ),
            OpenApiParameter(
                "radius_m",
                OpenApiTypes.NUMBER,
                description=f"Metres between neighbouring reports, {RADIUS_M_RANGE[0]:g} to {RADIUS_M_RANGE[1]:g} (default 50)",
            ),
            OpenApiParameter(
                "days",
                OpenApiTypes.INT,
                description="Length of the window in days, up to `until` (default 90; at most 366)",
            ),
            OpenApiParameter(
                "bbox",
                OpenApiTypes.STR,
                description="minLon,minLat,maxLon,maxLat (WGS 84): reports inside it",
            ),
            *[p for p in FILTER_PARAMETERS if p.name != "status"],
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                description="Comma list of statuses, or `open` / `closed`. Default: every status but `duplicate`",
            ),
        ],
        responses={
            (200, "application/geo+json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="FeatureCollection of Point hotspots"
            ),
            (304, "application/geo+json"): OpenApiResponse(description="Not modified (If-None-Match)"),
            (400, "application/json"): ErrorSerializer,
        },
    )
    def get(self, request: Request) -> HttpResponse:
        params = request.query_params
        try:
            filters = report_filters_parse(params)
            min_reports = _whole(params, "min_reports")
            radius_m = _metres(params, "radius_m")
            days = _whole(params, "days")
            config = hotspot_settings()
            hotspot_parameters_check(
                min_reports=config.min_reports if min_reports is None else min_reports,
                radius_m=config.radius_m if radius_m is None else radius_m,
                days=days,
            )
            window = hotspot_window(since=filters.since, until=filters.until_before, days=days)
            hotspots = hotspot_list(
                filters=filters,
                since=window.since,
                until=window.until,
                min_reports=min_reports,
                radius_m=radius_m,
            )
        except (FilterError, HotspotParameterError) as exc:
            raise field_error(exc.field, exc.message) from None
        body = {
            "type": "FeatureCollection",
            "count": len(hotspots),
            "since": window.since.isoformat(timespec="seconds"),
            "until": window.until.isoformat(timespec="seconds"),
            "min_reports": config.min_reports if min_reports is None else min_reports,
            "radius_m": config.radius_m if radius_m is None else radius_m,
            "features": [hotspot_feature(h) for h in hotspots],
        }
        return cacheable_response(
            orjson.dumps(body),
            "application/geo+json",
            if_none_match=request.headers.get("If-None-Match", ""),
        )
