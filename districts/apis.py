"""JSON shapes of routing results, shared by the locate API and the report APIs."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from districts.models import DistrictLevel
from districts.selectors import DistrictMatch, Routing, ServiceAreaMatch, district_list_geojson

# The answer of field_error, for the OpenAPI schema (a raw schema: this layer has no serializers).
FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "code", "detail"],
    "properties": {
        "error": {"type": "string", "description": "A sentence for people, naming the field at fault."},
        "code": {"type": "string", "description": "Stable, for programs: invalid (open137.api)."},
        "detail": {
            "type": "object",
            "description": "Messages by field.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}


def field_error(field: str, message: str) -> ValidationError:
    """A 400 in the API's error shape: a readable `error` sentence naming the field, and `detail`.

    Built here rather than as `ValidationError({field: [message]})`, which the project's exception
    handler would flatten into `error` as the Python repr of a list of ErrorDetail objects.
    """
    return ValidationError({"error": f"{field}: {message}", "detail": {field: [message]}})


def district_json(district: DistrictMatch | None) -> dict[str, Any] | None:
    if district is None:
        return None
    return {
        "code": district.code,
        "name_fa": district.name_fa,
        "name_en": district.name_en,
        "level": district.level_name,
    }


def service_area_json(area: ServiceAreaMatch | None) -> dict[str, Any] | None:
    if area is None:
        return None
    return {"code": area.code, "unit_name_fa": area.unit_name_fa, "unit_name_en": area.unit_name_en}


def routing_json(routing: Routing) -> dict[str, Any]:
    area = routing.service_area
    return {
        "district": district_json(routing.district),
        "service_area": service_area_json(area),
        "department": {
            "code": area.department_code,
            "name_fa": area.department_name_fa,
            "name_en": area.department_name_en,
        }
        if area
        else None,
        "unit": {"name_fa": area.unit_name_fa, "name_en": area.unit_name_en} if area else None,
        "rule": str(routing.rule),
        "distance_m": round(routing.distance_m, 1),
        "inside_jurisdiction": routing.inside_jurisdiction,
    }


class DistrictListGeoJsonApi(APIView):
    """The active districts as GeoJSON, simplified for display. `?level=1|2` (0 is the jurisdiction)."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "level",
                OpenApiTypes.INT,
                enum=[0, 1, 2],
                description="0 jurisdiction, 1 region, 2 sub-district",
            )
        ],
        responses={
            (200, "application/geo+json"): OpenApiTypes.OBJECT,
            (400, "application/json"): FIELD_ERROR_SCHEMA,
        },
    )
    def get(self, request: Request) -> HttpResponse:
        raw = request.query_params.get("level")
        level = None
        if raw not in (None, ""):
            if raw not in {str(v) for v in DistrictLevel.values}:
                raise field_error("level", _("level must be 0, 1 or 2."))
            level = int(raw)
        response = HttpResponse(district_list_geojson(level=level), content_type="application/geo+json")
        response["Cache-Control"] = "public, max-age=300"
        return response
