"""Filters of the public report list (`GET /api/reports/`), parsed from query parameters.

People in Iran write dates on the Jalali (solar hijri) calendar, often with Persian digits
(`۱۴۰۵/۰۹/۰۷`); API clients send ISO 8601. Both are accepted: a year before 1700 can only be a Jalali
one (the Jalali year is about 621 behind the Gregorian), so the year tells the calendars apart.
Every bad value is refused with a message that names the parameter, never silently ignored: a map
that quietly drops a filter shows the wrong reports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import jdatetime
from django.utils import timezone
from django.utils.translation import gettext as _

from districts.models import District
from geo.text import normalize_digits, normalize_persian
from issues.models import OPEN_STATUSES, Category, MessageKind, ReportStatus

# Beyond these a request is a mistake or an attack, not a real filter.
MAX_LIST_ITEMS = 50
MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 10
# `status=open|closed` stand for the two Open311 states, each a group of detailed states.
JALALI_BEFORE_YEAR = 1700

_DATE = re.compile(
    r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})"
    r"(?:[T ](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?$"
)


class FilterError(ValueError):
    """A query parameter that cannot be used; `field` names it, `message` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ReportFilters:
    # (min lon, min lat, max lon, max lat) in WGS 84 degrees.
    bbox: tuple[float, float, float, float] | None = None
    # Detailed states (the `open`/`closed` groups already expanded); None: every state.
    statuses: frozenset[str] | None = None
    categories: tuple[str, ...] = ()
    # A district code; a region takes in the reports routed to its sub-districts too.
    district: str | None = None
    kinds: tuple[str, ...] = ()
    # Creation time: since <= created_at < until_before.
    since: datetime | None = None
    until_before: datetime | None = None
    # Words of the text search, normalised like Report.description_search; all must match.
    words: tuple[str, ...] = ()


def _clean(value: str | None, field: str) -> str:
    if value is None:
        return ""
    if "\x00" in value:
        # PostgreSQL text cannot hold a NUL byte: refuse it here rather than fail in the query.
        raise FilterError(field, _("contains a NUL character."))
    return normalize_digits(value).strip()


def _comma_list(value: str, field: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if len(items) > MAX_LIST_ITEMS:
        raise FilterError(field, _("at most %(n)d values.") % {"n": MAX_LIST_ITEMS})
    return items


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    parts = [p.strip() for p in value.replace("٫", ".").split(",")]
    if len(parts) != 4:
        raise FilterError(
            "bbox", _("needs four numbers: minLon,minLat,maxLon,maxLat (got %(n)d).") % {"n": len(parts)}
        )
    try:
        min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
    except ValueError:
        raise FilterError("bbox", _("needs four numbers: minLon,minLat,maxLon,maxLat.")) from None
    numbers = (min_lon, min_lat, max_lon, max_lat)
    if any(n != n or n in (float("inf"), float("-inf")) for n in numbers):
        raise FilterError("bbox", _("needs four finite numbers."))
    if not (
        -180 <= min_lon <= 180 and -180 <= max_lon <= 180 and -90 <= min_lat <= 90 and -90 <= max_lat <= 90
    ):
        raise FilterError("bbox", _("longitudes must be within ±180 and latitudes within ±90 degrees."))
    if min_lon > max_lon or min_lat > max_lat:
        raise FilterError(
            "bbox", _("the minimum must not exceed the maximum (order: minLon,minLat,maxLon,maxLat).")
        )
    return numbers


def parse_statuses(value: str) -> frozenset[str]:
    valid = set(ReportStatus.values)
    open_values = {str(s) for s in OPEN_STATUSES}
    result: set[str] = set()
    for item in _comma_list(value.lower(), "status"):
        if item == "open":
            result |= open_values
        elif item == "closed":
            result |= valid - open_values
        elif item in valid:
            result.add(item)
        else:
            raise FilterError(
                "status",
                _("unknown status “%(value)s”; use open, closed or one of: %(valid)s.")
                % {"value": item[:40], "valid": ", ".join(ReportStatus.values)},
            )
    return frozenset(result)


def parse_categories(value: str) -> tuple[str, ...]:
    codes = tuple(dict.fromkeys(_comma_list(value, "category")))
    # Inactive categories still name old reports, so they are valid filters.
    known = set(Category.objects.filter(code__in=codes).values_list("code", flat=True))
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise FilterError(
            "category", _("unknown category code(s): %(codes)s.") % {"codes": ", ".join(unknown)[:200]}
        )
    return codes


def parse_kinds(value: str) -> tuple[str, ...]:
    kinds = tuple(dict.fromkeys(_comma_list(value.lower(), "kind")))
    for kind in kinds:
        if kind not in MessageKind.values:
            raise FilterError(
                "kind",
                _("unknown kind “%(value)s”; use one of: %(valid)s.")
                % {"value": kind[:40], "valid": ", ".join(MessageKind.values)},
            )
    return kinds


def parse_district(value: str) -> str:
    if len(value) > 50 or not District.objects.filter(code=value).exists():
        raise FilterError("district", _("unknown district code “%(code)s”.") % {"code": value[:50]})
    return value


def parse_when(value: str, field: str, *, end_of_day: bool = False) -> datetime:
    """A point in time from an ISO 8601 date or date-time, or a Jalali date (and time).

    A bare date means the start of that day in the city's time zone; with `end_of_day` (for `until`)
    it means the start of the next day, so `until=1405-09-07` includes the whole of that day.
    """
    text = normalize_digits(value).strip()
    match = _DATE.match(text)
    try:
        if match:
            y, m, d = int(match["y"]), int(match["m"]), int(match["d"])
            day: date = jdatetime.date(y, m, d).togregorian() if y < JALALI_BEFORE_YEAR else date(y, m, d)
            if match["H"] is not None:
                clock = time(int(match["H"]), int(match["M"]), int(match["S"] or 0))
                moment = timezone.make_aware(datetime.combine(day, clock))
            else:
                moment = timezone.make_aware(datetime.combine(day, time.min))
                if end_of_day:
                    moment += timedelta(days=1)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
            # A full date-time bound is inclusive: `until` keeps a report created at that very instant.
            if end_of_day:
                moment += timedelta(microseconds=1)
        # PostgreSQL holds UTC offsets up to ±15:59 only; Python reads up to ±23:59. In UTC, any is fine.
        return moment.astimezone(UTC)
    except OverflowError:
        # 9999-12-31T23:59:59.999999 (plus the inclusive microsecond), or a time zone that moves the
        # moment past year 9999 or before year 1.
        raise FilterError(
            field,
            _("“%(value)s” is out of range: use a date between the years 1 and 9999.")
            % {"value": _shown(value)},
        ) from None
    except ValueError:
        raise FilterError(
            field,
            _(
                "“%(value)s” is not a date: use an ISO date (2026-11-28), a date-time "
                "(2026-11-28T10:00:00+03:30) or a Jalali date (1405-09-07)."
            )
            % {"value": _shown(value)},
        ) from None


def _shown(value: str) -> str:
    """What was sent, as it can be echoed in a message (40 characters, lone surrogates escaped)."""
    return value[:40].encode("utf-8", "backslashreplace").decode("utf-8")


def parse_query(value: str) -> tuple[str, ...]:
    if len(value) > MAX_QUERY_CHARS:
        raise FilterError("q", _("at most %(n)d characters.") % {"n": MAX_QUERY_CHARS})
    words = tuple(dict.fromkeys(normalize_persian(value).split()))
    if len(words) > MAX_QUERY_WORDS:
        raise FilterError("q", _("at most %(n)d words.") % {"n": MAX_QUERY_WORDS})
    return words


def report_filters_parse(params: Mapping[str, str]) -> ReportFilters:
    """ReportFilters from query parameters (empty ones mean "not given"), or FilterError."""
    values = {
        name: _clean(params.get(name), name)
        for name in ("bbox", "status", "category", "district", "kind", "since", "until", "q")
    }
    since = parse_when(values["since"], "since") if values["since"] else None
    until_before = parse_when(values["until"], "until", end_of_day=True) if values["until"] else None
    if since is not None and until_before is not None and since >= until_before:
        raise FilterError("since", _("since must be before until."))
    return ReportFilters(
        bbox=parse_bbox(values["bbox"]) if values["bbox"] else None,
        statuses=parse_statuses(values["status"]) if values["status"] else None,
        categories=parse_categories(values["category"]) if values["category"] else (),
        district=parse_district(values["district"]) if values["district"] else None,
        kinds=parse_kinds(values["kind"]) if values["kind"] else (),
        since=since,
        until_before=until_before,
        words=parse_query(values["q"]) if values["q"] else (),
    )
