"""Which district, service area and unit would take a report at a point (`/api/locate/`)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from districts.apis import field_error, routing_json
from districts.selectors import (
    point_from_lat_lon,
    route_point,
)
from geo.coords import CoordinateError
from issues.api.params import (
    category_or_400,
)


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
