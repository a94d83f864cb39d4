"""The oversight map's data: vector tiles (a plain Django view: the body is bytes from the database)
and the heatmap (a DRF view, in the OpenAPI schema). Thin: parse, call one selector, answer.

Both are public and cacheable: `Cache-Control: public, max-age=N` and an ETag (a hash of the body),
so a proxy serves repeats and a client that has the answer gets a 304. Bad parameters are a 400 in
the API's shape (`{"error": sentence, "detail": {field: [message]}}`), as `/api/reports/` answers.
"""

from __future__ import annotations

import hashlib

import orjson
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.utils.decorators import method_decorator
from django.utils.http import parse_etags
from django.utils.translation import gettext as _
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_safe
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from districts.apis import field_error
from geo.text import normalize_digits
from geo.tiles import MAX_TILE_ZOOM, Tile, TileError, tile_parse
from issues.api.schema import ErrorSerializer
from issues.filters import FilterError, ReportFilters, report_filters_parse
from issues.oversight.heatmap import HeatmapTooLarge, heatmap_geojson, report_heatmap_cells
from issues.oversight.sql import oversight_settings
from issues.oversight.tiles import report_tile_mvt
from open137.api import AnswersInItsOwnFormat, field_error_body

MVT_CONTENT_TYPE = "application/vnd.mapbox-vector-tile"


def field_error_response(field: str, message: str) -> JsonResponse:
    """A 400 in the API's shape (districts.apis.field_error's, for a view outside DRF)."""
    return JsonResponse(field_error_body(field, message), status=400)


def cacheable_response(body: bytes, content_type: str, *, if_none_match: str) -> HttpResponse:
    """`body` with Cache-Control and its ETag, or a 304 when the client already holds it (its
    If-None-Match header names the ETag)."""
    etag = f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
    held = parse_etags(if_none_match)
    response: HttpResponse
    if "*" in held or etag in held or f"W/{etag}" in held:
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type=content_type)
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={oversight_settings().max_age}"
    return response


@require_safe
def report_tile(request: HttpRequest, z: str, x: str, y: str) -> HttpResponse:
    """GET /tiles/reports/{z}/{x}/{y}.mvt: the public reports of a tile (issues.oversight.tiles),
    filtered like /api/reports/; 204 when no report is there. (A well-formed request is usually
    answered before it gets here: issues.oversight.middleware.)"""
    try:
        tile = tile_parse(z, x, y)
    except TileError as exc:
        return field_error_response("tile", exc.message)
    try:
        filters = report_filters_parse(request.GET)
    except FilterError as exc:
        return field_error_response(exc.field, exc.message)
    return tile_answer(request, tile=tile, filters=filters)


def tile_answer(request: HttpRequest, *, tile: Tile, filters: ReportFilters) -> HttpResponse:
    """The answer to a tile request already read: the tile (ETag, Cache-Control, or 304), or 204."""
    body = report_tile_mvt(z=tile.z, x=tile.x, y=tile.y, filters=filters)
    if not body:
        response = HttpResponse(status=204)
        response["Cache-Control"] = f"public, max-age={oversight_settings().max_age}"
        return response
    return cacheable_response(body, MVT_CONTENT_TYPE, if_none_match=request.headers.get("If-None-Match", ""))


# The filters of /api/reports/, with the same names and meaning; status defaults to the open ones.
FILTER_PARAMETERS = [
    OpenApiParameter(
        "status",
        OpenApiTypes.STR,
        description="Comma list of statuses, or `open` / `closed`. Default: `open` (`open,closed` for every report)",
    ),
    OpenApiParameter("category", OpenApiTypes.STR, description="Comma list of category codes"),
    OpenApiParameter(
        "district", OpenApiTypes.STR, description="District code (a region includes its sub-districts)"
    ),
    OpenApiParameter("kind", OpenApiTypes.STR, description="Comma list of message kinds"),
    OpenApiParameter(
        "since",
        OpenApiTypes.STR,
        description="Created at or after: ISO date or date-time, or Jalali date (1405-09-07, Persian digits too)",
    ),
    OpenApiParameter("until", OpenApiTypes.STR, description="Created at or before (a date: the whole day)"),
    OpenApiParameter(
        "q", OpenApiTypes.STR, description="Words in the description (Persian spelling variants match)"
    ),
]


# Cell polygons repeat their shape and neighbours share corners: gzip makes a city's heatmap about
# fourteen times smaller on the wire (a phone on a slow network). Public counts only, no secret in the
# body, so compression cannot leak one (BREACH).
@method_decorator(gzip_page, name="dispatch")
class HeatmapApi(APIView):
    """GET /api/heatmap/: matching reports counted per grid cell, as GeoJSON cell polygons."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnswersInItsOwnFormat

    @extend_schema(
        operation_id="heatmap",
        summary="Reports counted per grid cell",
        description=(
            "A GeoJSON FeatureCollection of square cells (Web Mercator tiles at zoom `zoom` + "
            "OPEN137_HEATMAP_CELL_LEVELS, 4 by default: 16 x 16 cells a tile), each with a `count`; only "
            "cells holding reports. The counts are made in the database and sum to the number of "
            "matching reports with a location (`count` at the top). Filters as `/api/reports/`. "
            "Too many cells (OPEN137_HEATMAP_MAX_CELLS) is a 400: zoom out or ask for a smaller box."
        ),
        parameters=[
            OpenApiParameter(
                "zoom",
                OpenApiTypes.INT,
                required=True,
                description=f"The map's zoom, 0 to {MAX_TILE_ZOOM}: it sizes the cells",
            ),
            OpenApiParameter(
                "bbox",
                OpenApiTypes.STR,
                description="minLon,minLat,maxLon,maxLat (WGS 84); default: everywhere",
            ),
            *FILTER_PARAMETERS,
        ],
        responses={
            (200, "application/geo+json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="FeatureCollection of Polygon cells with `count`"
            ),
            (304, "application/geo+json"): OpenApiResponse(description="Not modified (If-None-Match)"),
            (400, "application/json"): ErrorSerializer,
        },
    )
    def get(self, request: Request) -> HttpResponse:
        try:
            filters = report_filters_parse(request.query_params)
        except FilterError as exc:
            raise field_error(exc.field, exc.message) from None
        zoom = _zoom(request.query_params.get("zoom"))
        try:
            cells = report_heatmap_cells(bbox=filters.bbox, zoom=zoom, filters=filters)
        except HeatmapTooLarge as exc:
            raise field_error(
                "zoom",
                _("more than %(n)d cells hold reports: zoom out or ask for a smaller bbox.")
                % {"n": exc.max_cells},
            ) from None
        return cacheable_response(
            orjson.dumps(heatmap_geojson(cells)),
            "application/geo+json",
            if_none_match=request.headers.get("If-None-Match", ""),
        )


def _zoom(value: str | None) -> int:
    raw = normalize_digits(value or "").strip()
    if not raw:
        raise field_error(
            "zoom", _("is required: the map's zoom, from 0 to %(max)d.") % {"max": MAX_TILE_ZOOM}
        )
    if not raw.isascii() or not raw.isdecimal() or len(raw) > 3 or int(raw) > MAX_TILE_ZOOM:
        raise field_error("zoom", _("must be a whole number from 0 to %(max)d.") % {"max": MAX_TILE_ZOOM})
    return int(raw)
