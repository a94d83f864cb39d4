"""The public scorecards in the API (/api/scorecards/): per district, per unit, and the trends by week
and Jalali month, each as JSON or, with `?format=csv`, as CSV holding the same rows and values.
Thin: parse the filters, call issues.oversight.scorecards, answer. Numbers only, never a report."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from districts.apis import field_error
from issues.api.schema import ErrorSerializer
from issues.filters import FilterError
from issues.oversight.scorecard_csv import (
    CITY_COLUMNS,
    DISTRICT_COLUMNS,
    MONTH_COLUMNS,
    UNIT_COLUMNS,
    WEEK_COLUMNS,
    scorecard_csv,
)
from issues.oversight.scorecards import (
    scorecard_filters_parse,
    scorecards,
)
from open137.api import AnswersInItsOwnFormat

SCORECARD_PARAMETERS = [
    OpenApiParameter("category", OpenApiTypes.STR, description="Comma list of category codes"),
    OpenApiParameter(
        "district", OpenApiTypes.STR, description="District code (a region includes its sub-districts)"
    ),
    OpenApiParameter(
        "since",
        OpenApiTypes.STR,
        description="Received at or after (ISO or Jalali date or date-time). Default: a year before `until`",
    ),
    OpenApiParameter(
        "until", OpenApiTypes.STR, description="Received at or before (a date: the whole day). Default: now"
    ),
    OpenApiParameter(
        "format", OpenApiTypes.STR, enum=["json", "csv"], description="`csv` for a CSV file of the rows"
    ),
]

# Where the rows of each CSV come from in the JSON answer, and their columns. A first column, `row`,
# says what the row is (a district, or the city's total; a week or a month).
CSV_PARTS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "districts": (("districts", DISTRICT_COLUMNS), ("city", CITY_COLUMNS)),
    "units": (("units", UNIT_COLUMNS), ("city", CITY_COLUMNS)),
    "trends": (("weeks", WEEK_COLUMNS), ("months", MONTH_COLUMNS)),
}
ROW_NAMES = {"districts": "district", "units": "unit", "weeks": "week", "months": "month", "city": "city"}


def scorecard_csv_rows(kind: str, data: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The CSV's rows (the JSON's rows, each with `row`) and its columns, for `kind`."""
    columns: list[str] = ["row"]
    rows: list[dict[str, Any]] = []
    for part, part_columns in CSV_PARTS[kind]:
        columns += [c for c in part_columns if c not in columns]
        found = data[part]
        for row in found if isinstance(found, list) else [found]:
            rows.append({"row": ROW_NAMES[part], **row})
    return rows, columns


class _ScorecardApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnswersInItsOwnFormat
    kind = ""
    parts: tuple[str, ...] = ()

    def get(self, request: Request) -> HttpResponse:
        output = request.query_params.get("format", "json")
        if output not in ("json", "csv"):
            raise field_error("format", _("use json or csv."))
        try:
            filters = scorecard_filters_parse(request.query_params)
        except FilterError as exc:
            raise field_error(exc.field, exc.message) from None
        data = scorecards(filters=filters)
        answer = {key: data[key] for key in ("period", "min_ratings", *self.parts)}
        response: HttpResponse
        if output == "csv":
            rows, columns = scorecard_csv_rows(self.kind, answer)
            response = HttpResponse(scorecard_csv(rows, columns), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="scorecards-{self.kind}.csv"'
        else:
            response = JsonResponse(answer, json_dumps_params={"ensure_ascii": False})
        response["Cache-Control"] = "public, max-age=300"
        return response


def _schema(kind: str, summary: str, description: str) -> Any:
    return extend_schema(
        operation_id=f"scorecards_{kind}",
        summary=summary,
        description=description
        + " Public numbers only (counts, medians in working hours, shares, averages): no report, no "
        "name, no contact. Definitions: issues/oversight/SCORECARDS.md.",
        parameters=SCORECARD_PARAMETERS,
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="The scorecards"),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The same rows as CSV"),
            (400, "application/json"): ErrorSerializer,
        },
        tags=["scorecards"],
    )


class ScorecardDistrictsApi(_ScorecardApi):
    """GET /api/scorecards/districts/"""

    kind = "districts"
    parts = ("city", "districts")

    @_schema(
        "districts",
        "Scorecards per district, and the city",
        "Per district (by code; reports routed to no district in a row of their own, so the rows sum "
        "to the city): received, open backlog and its age, median time to acknowledge and to resolve "
        "in working hours, share within the resolve SLA, reopen rate, satisfaction (above a minimum "
        "number of ratings), reports per 10,000 residents, resolved by citizens.",
    )
    def get(self, request: Request) -> HttpResponse:
        return super().get(request)


class ScorecardUnitsApi(_ScorecardApi):
    """GET /api/scorecards/units/"""

    kind = "units"
    parts = ("city", "units")

    @_schema("units", "Scorecards per unit (service area), and the city", "The same numbers per unit.")
    def get(self, request: Request) -> HttpResponse:
        return super().get(request)


class ScorecardTrendsApi(_ScorecardApi):
    """GET /api/scorecards/trends/"""

    kind = "trends"
    parts = ("weeks", "months")

    @_schema(
        "trends",
        "Scorecard trends by week and by Jalali month",
        "The same numbers for the reports received each week (from Saturday) and each Jalali month.",
    )
    def get(self, request: Request) -> HttpResponse:
        return super().get(request)
