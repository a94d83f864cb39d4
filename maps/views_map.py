"""The public map (`/map/`): open problems on vector tiles, one layer per category, a status filter,
a time window, district outlines, a heatmap, participation points, hotspots (places where one
category recurs: candidates for a lasting fix), and lists of what is on screen (the keyboard and
screen-reader path to the same reports and hotspots).

The page is a GET form: without JavaScript, choosing filters and pressing "Show" reloads the page
with them in the query string; the script (maps/static/maps/map.js) applies them at once and keeps
the address in step. Everything the script needs comes in one `json_script` block (the pages'
Content-Security-Policy forbids inline script). The data are the public endpoints'
(`/tiles/reports/...`, `/api/heatmap/`, `/api/reports/`, `/api/districts/`, `/api/hotspots/`), so
the map shows nothing the API does not already publish.

Hotspots follow the map's categories and time, not its status: a hotspot counts every report of its
place and category, open or closed (a problem that came back after a repair is the recurrence it
is about), as `/api/hotspots/` does by default. The time window becomes the API's `days` (7, 30,
365); "all time" and explicit dates are bounded by the API's longest window
(OPEN137_HOTSPOT_MAX_DAYS, `days` with `since`: the later start wins), so the layer never asks for
a window the API refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from issues.filters import FilterError, report_filters_parse
from issues.models import ReportStatus
from issues.oversight.hotspots import hotspot_settings
from issues.selectors import category_list_public

# The status choice: the open problems by default (what is still to be done), as the tiles do.
STATUS_CHOICES = ("open", "closed", "all")
STATUS_PARAMS = {"open": "open", "closed": "closed", "all": "open,closed"}
# The time window in days back from today (the city's day); "all": no lower bound.
WINDOW_CHOICES = ("7", "30", "365", "all")
DEFAULT_WINDOW = "all"
LIST_PAGE_SIZE = 50
# The participation app's public points (GeoJSON), built alongside: the script draws them, and shows
# their toggle, only when this answers 200 with a FeatureCollection.
PARTICIPATION_POINTS_URL = "/api/participation/points/"
# A map view given in the address (shared links): bounds of what Leaflet accepts usefully.
MIN_ZOOM, MAX_ZOOM = 3, 19
# Colours for the categories, in display order; distinct on a light map and for the common colour
# vision deficiencies (Okabe-Ito and Tol's bright scheme), dark enough for a white outline.
CATEGORY_COLOURS = (
    "#0072b2",
    "#d55e00",
    "#009e73",
    "#cc79a7",
    "#e69f00",
    "#56b4e9",
    "#7a5195",
    "#8c564b",
    "#228833",
    "#aa3377",
    "#4477aa",
    "#ee6677",
)


@dataclass
class MapState:
    """What the map shows, read from the query string (defaults where a value is missing)."""

    categories: list[str]
    status: str = "open"
    window: str = DEFAULT_WINDOW
    since: str = ""
    until: str = ""
    lat: float | None = None
    lon: float | None = None
    zoom: int | None = None
    errors: list[str] = field(default_factory=list)


def _values(query: QueryDict, name: str) -> list[str]:
    """Every value of a parameter, comma lists split (`?category=a&category=b` or `?category=a,b`)."""
    return [item.strip() for value in query.getlist(name) for item in value.split(",") if item.strip()]


def _number(query: QueryDict, name: str, low: float, high: float, errors: list[str]) -> float | None:
    raw = query.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (low <= value <= high):  # NaN fails both comparisons
        errors.append(
            _("%(field)s: a number between %(low)s and %(high)s.") % {"field": name, "low": low, "high": high}
        )
        return None
    return value


def map_state_parse(query: QueryDict, *, category_codes: list[str]) -> MapState:
    """The map's state from the page's query string. A value that cannot be used is named in
    `errors` and replaced by its default (the page then answers 400 and says so)."""
    errors: list[str] = []
    known = set(category_codes)
    asked = _values(query, "category")
    unknown = [code for code in asked if code not in known]
    if unknown:
        errors.append(
            _("category: unknown category code(s): %(codes)s.") % {"codes": ", ".join(unknown)[:200]}
        )
    chosen = [code for code in category_codes if code in asked] or list(category_codes)
    state = MapState(categories=chosen, errors=errors)

    status = query.get("status", "").strip() or "open"
    if status in STATUS_CHOICES:
        state.status = status
    else:
        errors.append(_("status: use one of %(valid)s.") % {"valid": ", ".join(STATUS_CHOICES)})
    window = query.get("window", "").strip() or DEFAULT_WINDOW
    if window in WINDOW_CHOICES:
        state.window = window
    else:
        errors.append(_("window: use one of %(valid)s.") % {"valid": ", ".join(WINDOW_CHOICES)})
    # Explicit dates (ISO or Jalali, as the API takes them) replace the window.
    since, until = query.get("since", "").strip(), query.get("until", "").strip()
    if since or until:
        try:
            report_filters_parse({"since": since, "until": until})
        except FilterError as exc:
            errors.append(f"{exc.field}: {exc.message}")
        else:
            state.since, state.until = since[:40], until[:40]

    lat = _number(query, "lat", -85, 85, errors)
    lon = _number(query, "lon", -180, 180, errors)
    zoom = _number(query, "zoom", MIN_ZOOM, MAX_ZOOM, errors)
    if lat is not None and lon is not None and zoom is not None:
        state.lat, state.lon, state.zoom = lat, lon, int(zoom)
    return state


def _since_of(state: MapState) -> str:
    """The lower bound sent to the endpoints: the explicit date, or today minus the window."""
    if state.since or state.until:
        return state.since
    if state.window == "all":
        return ""
    return (timezone.localdate() - timedelta(days=int(state.window))).isoformat()


def _template_url(name: str, placeholders: dict[str, str]) -> str:
    """A URL with `{placeholder}`s for the script (reverse() would escape the braces)."""
    url = reverse(name, kwargs={key: f"PLACEHOLDER{key.upper()}" for key in placeholders})
    for key, replacement in placeholders.items():
        url = url.replace(f"PLACEHOLDER{key.upper()}", replacement)
    return url


def _strings() -> dict[str, str]:
    """The sentences the map's script writes, translated here with the rest of the page."""
    return {
        "summary": _("%(n)s reports in this view."),
        "summaryShown": _("%(n)s reports in this view; the first %(shown)s are listed."),
        "summaryNone": _("No report in this view with these filters."),
        "summaryLoading": _("Loading the reports in this view…"),
        "summaryFailed": _("Could not load the list of reports. Move the map to try again."),
        "summaryNoCategory": _("No category chosen: choose one or more to see reports."),
        "generated": _("generated"),
        "generatedTitle": _("Generated demo data, not a real report"),
        "heatmapTooLarge": _("Too many heatmap cells for this view: zoom in to see the heatmap."),
        "heatmapFailed": _("Could not load the heatmap."),
        "heatmapCount": _("The darkest cell: %(n)s reports."),
        "stocked": _("stocked"),
        "empty": _("empty"),
        "openPoint": _("Details"),
        "hotspotReports": _("%(n)s reports"),
        "hotspotPeriod": _("from %(from)s to %(to)s"),
        "hotspotCandidate": _("Candidate for a lasting fix"),
        "hotspotGenerated": _("%(n)s of them generated demo data"),
        "hotspotLatest": _("Latest reports:"),
        "hotspotShow": _("Show on the map"),
        # The button's name begins with its visible text (WCAG 2.5.3), then says which hotspot.
        "hotspotShowLabel": _("Show on the map: %(name)s"),
        "hotspotSummary": _("%(n)s hotspots in this view (%(total)s in all)."),
        "hotspotSummaryNone": _("No hotspot in this view."),
        "hotspotSummaryNoneAtAll": _("No hotspot with these filters."),
        "hotspotLoading": _("Looking for hotspots…"),
        "hotspotFailed": _("Could not load the hotspots."),
        "hotspotWindow": _(
            "Reports from %(from)s to %(to)s, open or closed: at least %(min)s of one category, "
            "each within %(radius)s metres of the next."
        ),
    }


def _persian() -> bool:
    return (get_language() or "fa").split("-")[0] == "fa"


def _category_rows(
    categories: list[dict[str, Any]], *, checked: list[str] | None = None
) -> list[dict[str, Any]]:
    """Each category's code, name in the page's language and colour (by display order)."""
    persian = _persian()
    return [
        {
            "code": c["code"],
            "name": (c["name_fa"] if persian else c["name_en"]) or c["name_fa"] or c["code"],
            "colour": CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)],
            "checked": checked is None or c["code"] in checked,
        }
        for i, c in enumerate(categories)
    ]


def report_map_config(category_rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What reportmap.js needs to draw the reports' tiles (the public map's and the home page's)."""
    rows = _category_rows(category_list_public()) if category_rows is None else category_rows
    return {
        "tiles": _template_url("tiles:reports", {"z": "{z}", "x": "{x}", "y": "{y}"}),
        "track": _template_url("maps:track", {"code": "{code}"}),
        "categories": [{"code": c["code"], "name": c["name"], "colour": c["colour"]} for c in rows],
        "detailZoom": settings.OPEN137_TILE_DETAIL_ZOOM,
        "language": "fa" if _persian() else "en",
    }


@require_safe
def public_map(request: HttpRequest) -> HttpResponse:
    """GET /map/: the public map of reports, with its filters from the query string."""
    categories = category_list_public()
    state = map_state_parse(request.GET, category_codes=[c["code"] for c in categories])
    category_rows = _category_rows(categories, checked=state.categories)
    hotspots = hotspot_settings()
    config = {
        **report_map_config(category_rows),
        "heatmap": reverse("api:heatmap"),
        "reports": reverse("api:report-list"),
        "districts": reverse("api:district-list"),
        # The participation app's endpoint: the script shows its layer's toggle only when it answers.
        "participation": PARTICIPATION_POINTS_URL,
        "hotspots": reverse("api:hotspots"),
        # The longest window the hotspots API searches (its `days` at most).
        "hotspotMaxDays": hotspots.max_days,
        "baseTiles": settings.OPEN137_TILE_URL,
        "attribution": settings.OPEN137_TILE_ATTRIBUTION,
        "center": list(cast(tuple[float, float], settings.LEAFLET_CONFIG["DEFAULT_CENTER"])),
        "zoom": settings.LEAFLET_CONFIG["DEFAULT_ZOOM"],
        "view": [state.lat, state.lon, state.zoom] if state.zoom is not None else None,
        "pageSize": LIST_PAGE_SIZE,
        "statusParams": STATUS_PARAMS,
        "statusLabels": {value: str(label) for value, label in ReportStatus.choices},
        "state": {
            "categories": state.categories,
            "status": state.status,
            "window": state.window,
            "since": state.since,
            "until": state.until,
            "sinceEffective": _since_of(state),
        },
        "timeZone": settings.TIME_ZONE,
        "strings": _strings(),
    }
    context = {
        "state": state,
        "categories": category_rows,
        "status_choices": [
            ("open", _("Open")),
            ("closed", _("Closed")),
            ("all", _("All")),
        ],
        "window_choices": [
            ("7", _("Last 7 days")),
            ("30", _("Last 30 days")),
            ("365", _("Last 365 days")),
            ("all", _("All time")),
        ],
        "map_config": config,
        "hotspot_min_reports": hotspots.min_reports,
        "hotspot_radius_m": f"{hotspots.radius_m:g}",
    }
    return render(request, "maps/map.html", context, status=400 if state.errors else 200)
