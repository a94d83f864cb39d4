"""The council's pages: the dashboard (/council/) for council members, 137 supervisors and district
managers (a manager sees their own districts only), and the public scorecards (/council/scorecards/).

Thin: the numbers come from issues.oversight.scorecards, the hotspots from issues.oversight.hotspots;
the maps are drawn in the browser (council/static/council/dashboard.js) from the public APIs. No
inline script: the page's data travels in json_script blocks."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, Literal

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from issues.filters import FilterError
from issues.models import Role
from issues.oversight.scorecard_csv import (
    DISTRICT_COLUMNS,
    MONTH_COLUMNS,
    UNIT_COLUMNS,
    WEEK_COLUMNS,
    scorecard_csv,
)
from issues.oversight.scorecards import (
    ScorecardFilters,
    scorecard_filters_parse,
    scorecards,
)
from issues.selectors import category_list_public
from issues.workflow.scope import StaffScope, staff_scope
from issues.workflow.sla import jalali_format
from open137.pages import forbidden_page

# Who opens the dashboard: the council reads the numbers; the 137 supervisors run the service; a
# district manager answers for their districts. Operators and unit staff work single reports.
DASHBOARD_ROLES = frozenset({Role.COUNCIL, Role.SUPERVISOR, Role.DISTRICT_MANAGER})

TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "districts": ("districts", DISTRICT_COLUMNS),
    "units": ("units", UNIT_COLUMNS),
    "weeks": ("weeks", WEEK_COLUMNS),
    "months": ("months", MONTH_COLUMNS),
}

# The district measures the choropleth can show, with their labels.
MEASURES = (
    ("received", gettext_lazy("Reports received")),
    ("per_10k", gettext_lazy("Reports per 10,000 residents")),
    ("backlog", gettext_lazy("Open backlog")),
    ("resolve_median_hours", gettext_lazy("Median time to resolve (working hours)")),
    ("ack_median_hours", gettext_lazy("Median time to acknowledge (working hours)")),
    ("sla_share", gettext_lazy("Share resolved within the SLA")),
    ("reopen_rate", gettext_lazy("Reopen rate")),
    ("satisfaction", gettext_lazy("Satisfaction (1 to 5)")),
)


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return forbidden_page(
        request,
        frame="council/base.html",
        message=message,
        back_url=reverse("council:scorecards"),
        back_label=_("The public scorecards"),
    )


def dashboard_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous: to the staff sign-in page (the console's); staff of another role, or not staff: 403."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        scope = staff_scope(user=request.user)
        if scope is None:
            return _forbidden(request, _("This page is for the municipality's staff only."))
        if scope.role not in DASHBOARD_ROLES:
            return _forbidden(
                request, _("The council dashboard is for council members, supervisors and district managers.")
            )
        response = view(request, *args, scope=scope, **kwargs)
        response.setdefault("Cache-Control", "private, no-store")
        return response

    return wrapped


def _filters(request: HttpRequest) -> tuple[ScorecardFilters, list[str]]:
    """The filters of the page's form; a bad one is reported and left out (the defaults instead)."""
    try:
        return scorecard_filters_parse(request.GET), []
    except FilterError as exc:
        return ScorecardFilters(), [exc.message]


def _csv(data: dict[str, Any], table: str, *, manager: bool) -> HttpResponse:
    part, columns = TABLES[table]
    rows = list(data[part])
    if table in ("districts", "units"):
        # A district manager's total is their districts', not the city's: named so in the file.
        name_fa, name_en = ("مناطق شما", "your districts") if manager else ("کل شهر", "whole city")
        rows.append({"code": "city", "name_fa": name_fa, "name_en": name_en, **data["city"]})
    response = HttpResponse(scorecard_csv(rows, columns), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="scorecards-{table}.csv"'
    return response


def _hotspots(filters: ScorecardFilters, district: str | None) -> list[Any] | None:
    """The hotspots of the filters (issues.oversight.hotspots), or None while that module is absent."""
    try:
        module = importlib.import_module("issues.oversight.hotspots")
    except ImportError:
        return None
    try:
        found: list[Any] = module.hotspot_list(
            category=filters.categories or None,
            district=filters.district or district,
            since=filters.since,
            until=filters.until_before,
        )
        return found
    except ValueError:
        return []


def _url(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


def _map_exports(query: str) -> list[tuple[str, str]]:
    """The offline maps for council meetings (`manage.py export_map` as a download), with the
    page's filters; none while that view is absent."""
    links = []
    for kind, label in (
        ("heatmap", gettext_lazy("heatmap")),
        ("choropleth", gettext_lazy("choropleth")),
        ("hotspots", gettext_lazy("hotspots")),
    ):
        try:
            url = reverse("api:map-export", kwargs={"kind": kind})
        except NoReverseMatch:
            return []
        links.append((f"{url}?{query}" if query else url, str(label)))
    return links


def _context(
    request: HttpRequest, data: dict[str, Any], filters: ScorecardFilters, errors: list[str]
) -> dict[str, Any]:
    lang: Literal["fa", "en"] = "fa" if (get_language() or "fa").startswith("fa") else "en"
    since = datetime.fromisoformat(data["period"]["since"])
    # `until` is the first moment after the period: the last day shown is the one before it.
    until = datetime.fromisoformat(data["period"]["until"]) - timedelta(microseconds=1)
    return {
        "period_since": jalali_format(since, lang=lang),
        "period_until": jalali_format(until, lang=lang),
        "data": data,
        "lang": lang,
        "errors": errors,
        "categories": category_list_public(),
        "state": {
            "category": request.GET.get("category", ""),
            "district": request.GET.get("district", ""),
            "since": request.GET.get("since", ""),
            "until": request.GET.get("until", ""),
        },
        "query": request.GET.urlencode(),
        "measures": MEASURES,
    }


@dashboard_required
def dashboard(request: HttpRequest, *, scope: StaffScope) -> HttpResponse:
    """GET /council/: the numbers, the choropleth, the heatmap and the hotspots, with filters; a
    district manager's restricted to their districts. `?format=csv&table=districts|units|weeks|months`
    downloads a table as shown."""
    filters, errors = _filters(request)
    district_ids = None if scope.role != Role.DISTRICT_MANAGER else (scope.district_ids or frozenset())
    data = scorecards(filters=filters, district_ids=district_ids)
    if request.GET.get("format") == "csv":
        table = request.GET.get("table", "districts")
        if table not in TABLES:
            return HttpResponse(_("Unknown table."), status=400, content_type="text/plain; charset=utf-8")
        return _csv(data, table, manager=district_ids is not None)
    own_district = scope.district_codes[0] if district_ids is not None and scope.district_codes else None
    context = _context(request, data, filters, errors)
    hotspots = _hotspots(filters, own_district)
    context.update(
        scope=scope,
        manager=district_ids is not None,
        hotspots=hotspots,
        map_exports=_map_exports(request.GET.urlencode()),
        map_config={
            "districts": reverse("api:district-list"),
            "heatmap": reverse("api:heatmap"),
            "hotspots": _url("api:hotspots"),
            "district": filters.district or own_district or "",
            "category": ",".join(filters.categories),
            "since": request.GET.get("since", ""),
            "until": request.GET.get("until", ""),
            "own_districts": list(scope.district_codes) if district_ids is not None else None,
            "rows": [
                {k: row[k] for k in ("code", "name_fa", "name_en", *(m for m, _label in MEASURES))}
                for row in data["districts"]
            ],
            "lang": context["lang"],
        },
    )
    return render(request, "council/dashboard.html", context)


def scorecards_public(request: HttpRequest) -> HttpResponse:
    """GET /council/scorecards/: the district and unit scorecards, for anyone."""
    filters, errors = _filters(request)
    data = scorecards(filters=filters)
    return render(request, "council/scorecards.html", _context(request, data, filters, errors))
