"""Hotspots: places where one category of problem keeps coming back (at least N reports within R
metres of each other over a window of M days), candidates for a lasting fix rather than one more
repair.

Found in the database with PostGIS's `ST_ClusterDBSCAN` (eps R, minpoints N) over the reports of the
window, one category at a time (a pothole and a blocked drain at the same corner are two problems,
not a hotspot). The points are clustered in metres, in the city's UTM zone (geo.srid.METRIC_SRID,
zone 39 N for Qazvin and Tehran: the scale error there is under 0.1 %), not in degrees (at 36° N a
degree of longitude is 90 km and one of latitude 111 km).

The work is bounded whatever the archive's size: only the reports created within the window (at
most OPEN137_HOTSPOT_MAX_DAYS days) are read, found by the creation time's B-tree index (or, with a
category, by the status and category one), then narrowed by the other filters.

Window (hotspot_window): it ends at `until` (exclusive; now without it) and starts at `since`, or
`days` days before its end (90 by default); given both, the later start wins (each narrows, as
filters do). A longer window than OPEN137_HOTSPOT_MAX_DAYS is refused, never silently cut. Statuses: every one but `duplicate` unless asked (a duplicate is the same problem reported
twice, not a recurrence; a closed report is one: the problem came back after a repair).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from geo.srid import METRIC_SRID
from issues.filters import ReportFilters
from issues.models import ReportStatus
from issues.oversight.sql import filters_sql, map_query_row

# Statuses considered without a status filter: every one but a duplicate.
HOTSPOT_DEFAULT_STATUSES = frozenset(s for s in ReportStatus.values if s != ReportStatus.DUPLICATE)
# How many tracking codes a hotspot names (the latest ones): enough to open a few of its reports.
HOTSPOT_CODES = 5

# Bounds of the parameters (what the API accepts; a value outside is a 400).
MIN_REPORTS_RANGE = (2, 1000)
RADIUS_M_RANGE = (1.0, 2000.0)


@dataclass(frozen=True)
class HotspotSettings:
    min_reports: int
    radius_m: float
    days: int
    # The longest window: the work grows with it.
    max_days: int
    # At most this many hotspots are listed (the largest first).
    max_results: int


def hotspot_settings() -> HotspotSettings:
    """The defaults and limits (OPEN137_HOTSPOT_* settings, if set)."""
    return HotspotSettings(
        min_reports=int(getattr(settings, "OPEN137_HOTSPOT_MIN_REPORTS", 5)),
        radius_m=float(getattr(settings, "OPEN137_HOTSPOT_RADIUS_M", 50.0)),
        days=int(getattr(settings, "OPEN137_HOTSPOT_DAYS", 90)),
        max_days=int(getattr(settings, "OPEN137_HOTSPOT_MAX_DAYS", 366)),
        max_results=int(getattr(settings, "OPEN137_HOTSPOT_MAX_RESULTS", 500)),
    )


@dataclass(frozen=True)
class Hotspot:
    # The category's code.
    category: str
    # Reports in the cluster (at least min_reports).
    count: int
    # The centre of its reports (WGS 84 degrees).
    lon: float
    lat: float
    # Radius of the smallest circle around its reports, in metres.
    spread_m: float
    # The district most of its reports were routed to (its code), None if none was.
    district: str | None
    first_at: datetime
    last_at: datetime
    # Tracking codes of its latest reports (at most HOTSPOT_CODES), newest first.
    codes: tuple[str, ...]
    # How many of its reports the demo generated (Report.generated): shown as such.
    generated: int = 0


@dataclass(frozen=True)
class HotspotWindow:
    since: datetime
    until: datetime  # exclusive


class HotspotParameterError(ValueError):
    """A hotspot parameter out of its bounds; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# The reports of the window (the filters on `r`), in metres; clustered per category; one row per
# cluster. All in one row of arrays, so one prepared statement answers.
_HOTSPOTS_SQL = f"""
    WITH w AS (
      SELECT r.tracking_code, r.category_id, r.created_at, r.district_id, r.generated, r.location,
             ST_Transform(r.location, {METRIC_SRID}) AS p
        FROM issues_report r
       WHERE r.location IS NOT NULL AND {{where}}
    ), c AS (
      SELECT w.*, ST_ClusterDBSCAN(w.p, eps := %(radius_m)s, minpoints := %(min_reports)s)
                    OVER (PARTITION BY w.category_id) AS cluster
        FROM w
    ), h AS (
      SELECT c.category_id, count(*) AS n,
             ST_Centroid(ST_Collect(c.location)) AS centre,
             (ST_MinimumBoundingRadius(ST_Collect(c.p))).radius AS spread,
             mode() WITHIN GROUP (ORDER BY c.district_id) AS district_id,
             min(c.created_at) AS first_at, max(c.created_at) AS last_at,
             (array_agg(c.tracking_code ORDER BY c.created_at DESC, c.tracking_code))[1:{HOTSPOT_CODES}]
               AS codes,
             count(*) FILTER (WHERE c.generated) AS generated
        FROM c WHERE c.cluster IS NOT NULL
       GROUP BY c.category_id, c.cluster
      HAVING count(*) >= %(min_reports)s
       ORDER BY n DESC, last_at DESC, min(c.tracking_code)
       LIMIT %(max_results)s
    )
    SELECT array_agg(cat.code ORDER BY h.n DESC, h.last_at DESC, h.codes[1]),
           array_agg(h.n ORDER BY h.n DESC, h.last_at DESC, h.codes[1]),
           array_agg(ST_X(h.centre) ORDER BY h.n DESC, h.last_at DESC, h.codes[1]),
           array_agg(ST_Y(h.centre) ORDER BY h.n DESC, h.last_at DESC, h.codes[1]),
           array_agg(h.spread ORDER BY h.n DESC, h.last_at DESC, h.codes[1]),
           array_agg(d.code ORDER BY h.n DESC, h.last_at DESC, h.codes[1]),
           array_agg(h.first_at ORDER BY h.n DESC, h.last_at DESC, h.codes[1]),
           array_agg(h.last_at ORDER BY h.n DESC, h.last_at DESC, h.codes[1]),
           array_agg(array_to_string(h.codes, ',') ORDER BY h.n DESC, h.last_at DESC, h.codes[1]),
           array_agg(h.generated ORDER BY h.n DESC, h.last_at DESC, h.codes[1])
      FROM h
      JOIN issues_category cat ON cat.id = h.category_id
      LEFT JOIN districts_district d ON d.id = h.district_id"""


def hotspot_window(*, since: datetime | None, until: datetime | None, days: int | None) -> HotspotWindow:
    """The window searched. It ends at `until` (exclusive; now without it) and starts at `since`, or
    `days` days before its end (the settings' default without either); with both, at the later of
    the two (each narrows). HotspotParameterError if it is empty or longer than
    OPEN137_HOTSPOT_MAX_DAYS."""
    config = hotspot_settings()
    end = until or timezone.now()
    if since is None:
        start = end - timedelta(days=config.days if days is None else days)
    else:
        start = since if days is None else max(since, end - timedelta(days=days))
    if start >= end:
        raise HotspotParameterError("since", _("since must be before until."))
    if end - start > timedelta(days=config.max_days):
        raise HotspotParameterError(
            "since",
            _("hotspots are looked for within at most %(n)d days: give a later since or an earlier until.")
            % {"n": config.max_days},
        )
    return HotspotWindow(since=start, until=end)


def hotspot_parameters_check(*, min_reports: int, radius_m: float, days: int | None) -> None:
    """HotspotParameterError unless each parameter is within its bounds."""
    config = hotspot_settings()
    low, high = MIN_REPORTS_RANGE
    if not low <= min_reports <= high:
        raise HotspotParameterError(
            "min_reports", _("must be a whole number from %(low)d to %(high)d.") % {"low": low, "high": high}
        )
    r_low, r_high = RADIUS_M_RANGE
    if not (r_low <= radius_m <= r_high):  # NaN fails too
        raise HotspotParameterError(
            "radius_m",
            _("must be a number of metres from %(low)s to %(high)s.")
            % {"low": f"{r_low:g}", "high": f"{r_high:g}"},
        )
    if days is not None and not 1 <= days <= config.max_days:
        raise HotspotParameterError(
            "days",
            _("must be a whole number from %(low)d to %(high)d.") % {"low": 1, "high": config.max_days},
        )


def hotspot_list(
    *,
    category: str | Iterable[str] | None = None,
    district: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    statuses: Iterable[str] | None = None,
    min_reports: int | None = None,
    radius_m: float | None = None,
    days: int | None = None,
    filters: ReportFilters | None = None,
) -> list[Hotspot]:
    """The hotspots of the window (module docstring), the largest first (then the most recent).

    `category` (a code or codes), `district` (a code: a region takes in its sub-districts), `since`,
    `until` (exclusive) and `statuses` replace those of `filters` (the parsed filters of `/api/reports/`, for
    the API: `kind`, `q` and `bbox` too). `min_reports`, `radius_m` and `days` default to the
    OPEN137_HOTSPOT_* settings (5 reports, 50 m, 90 days). HotspotParameterError for a value out of
    its bounds (hotspot_parameters_check). Category and district codes are not checked here: an
    unknown one finds nothing (the API checks them, issues.filters)."""
    config = hotspot_settings()
    min_reports = config.min_reports if min_reports is None else min_reports
    radius_m = config.radius_m if radius_m is None else float(radius_m)
    hotspot_parameters_check(min_reports=min_reports, radius_m=radius_m, days=days)
    base = filters or ReportFilters()
    if category is not None:
        base = replace(base, categories=(category,) if isinstance(category, str) else tuple(category))
    if district is not None:
        base = replace(base, district=district)
    if statuses is not None:
        base = replace(base, statuses=frozenset(statuses))
    if base.statuses is None:
        base = replace(base, statuses=HOTSPOT_DEFAULT_STATUSES)
    window = hotspot_window(
        since=since if since is not None else base.since,
        until=until if until is not None else base.until_before,
        days=days,
    )
    base = replace(base, since=window.since, until_before=window.until)
    where, params = filters_sql(base)
    params.update(radius_m=radius_m, min_reports=min_reports, max_results=config.max_results)
    row = map_query_row(_HOTSPOTS_SQL.format(where=where), params)
    if row is None or row[0] is None:
        return []
    return [
        Hotspot(
            category=category_code,
            count=n,
            lon=round(lon, 6),
            lat=round(lat, 6),
            spread_m=round(spread, 1),
            district=district_code,
            first_at=first_at,
            last_at=last_at,
            codes=tuple(codes.split(",")) if codes else (),
            generated=generated,
        )
        for category_code, n, lon, lat, spread, district_code, first_at, last_at, codes, generated in zip(
            *row, strict=True
        )
    ]
