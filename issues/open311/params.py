"""Reading Open311 parameters: the spec's names, its date format, and forgiveness where it is safe.

The spec says an empty optional parameter means "not given"; dates are ISO 8601 with a time zone
(a date or a time without one is read in the city's time zone rather than refused); numbers may
come with Persian digits. Anything that cannot be read is an `Open311Error` with status 400 and a
message that names the parameter, never a server error.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

from django.contrib.gis.geos import Point
from django.http import HttpRequest, QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import get_language_from_request
from django.utils.translation import gettext as _

from districts.selectors import point_from_lat_lon
from geo.coords import CoordinateError, parse_number
from geo.srid import GEO_SRID
from issues.cursor import OFFSET_MAX, CursorError, PageCursor, cursor_decode

# The spec: with no dates, "the last 90 days or the first 1,000 requests, whichever is smaller".
DEFAULT_WINDOW = timedelta(days=90)
MAX_PAGE_SIZE = 1000
MAX_PAGE = 100_000
MAX_RADIUS_M = 50_000.0
DEFAULT_RADIUS_M = 1_000.0
MAX_IDS = 1000
LANGUAGES = ("fa", "en")
# The updates feed's cursors are signed apart from the requests' (issues/cursor.py).
UPDATES_CURSOR_SCOPE = "open311.updates"


class Open311Error(Exception):
    """An answer in the spec's error format: 404 not found, 403 api_key, 400 anything else (and 429
    with Retry-After when a key is over its write limit)."""

    def __init__(self, status: int, *descriptions: str, retry_after: int | None = None) -> None:
        super().__init__(*descriptions)
        self.status = status
        self.descriptions = list(descriptions)
        self.retry_after = retry_after  # seconds, for a 429


def value(params: QueryDict, name: str) -> str | None:
    """A parameter's text, stripped; empty means "not given" (the spec's rule)."""
    text = params.get(name)
    if text is None:
        return None
    text = text.strip()
    return text or None


def csv(params: QueryDict, name: str) -> list[str]:
    """A comma-separated list (`service_code=a,b`), also accepting the parameter repeated."""
    items: list[str] = []
    for raw in params.getlist(name):
        items.extend(part.strip() for part in raw.split(",") if part.strip())
    return list(dict.fromkeys(items))


def language(request: HttpRequest, params: QueryDict) -> str:
    """Persian or English: the `locale` parameter (`en`, `en_US`, `fa-IR`) first, then the
    Accept-Language header; Persian when neither names a language we speak."""
    locale = (params.get("locale") or "").strip().lower()[:2]
    if locale in LANGUAGES:
        return locale
    lang = get_language_from_request(request)[:2]
    return lang if lang in LANGUAGES else "fa"


_UNENCODED_PLUS = re.compile(r"(T[\d:.]+) (\d{2}(?::?\d{2})?)$")


def when(params: QueryDict, name: str) -> datetime | None:
    """An ISO 8601 date and time (`2026-11-28T16:00:00+03:30`, `...Z`); without a time zone it is
    the city's local time, a bare date its midnight."""
    text = value(params, name)
    if text is None:
        return None
    # An offset's "+" sent unencoded in a query string arrives as a space ("...T16:00:00 03:30").
    text = _UNENCODED_PLUS.sub(r"\1+\2", text)
    moment: datetime | None = None
    try:
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            if day is not None:
                moment = datetime.combine(day, time.min)
        if moment is not None and timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        if moment is not None:
            # PostgreSQL holds UTC offsets up to ±15:59 only (Python reads up to ±23:59): in UTC any
            # offset is fine; a moment that UTC puts before year 1 or after 9999 is refused.
            moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise Open311Error(
            400,
            _("%(name)s must be an ISO 8601 date and time with a time zone, like %(example)s.")
            % {"name": name, "example": "2026-11-28T16:00:00+03:30"},
        )
    return moment


def date_window(params: QueryDict) -> tuple[datetime | None, datetime | None]:
    """`start_date`/`end_date` with the spec's default: the last 90 days when neither is given, the
    90 days before `end_date` when only it is given."""
    start, end = when(params, "start_date"), when(params, "end_date")
    if start is not None and end is not None and start > end:
        raise Open311Error(400, _("start_date must not be after end_date."))
    try:
        if start is None and end is None:
            start = timezone.now() - DEFAULT_WINDOW
        elif start is None and end is not None:
            start = end - DEFAULT_WINDOW
    except OverflowError:
        start = None  # an end_date in the first 90 days of year 1: no lower bound
    return start, end


def statuses(params: QueryDict) -> set[str]:
    found = {item.lower() for item in csv(params, "status")}
    unknown = found - {"open", "closed"}
    if unknown:
        raise Open311Error(
            400,
            _("status must be open, closed or both (comma-separated), not “%(value)s”.")
            % {"value": ", ".join(sorted(unknown))[:100]},
        )
    return found


def integer(params: QueryDict, name: str, *, default: int, low: int, high: int) -> int:
    text = value(params, name)
    if text is None:
        return default
    try:
        number = int(text)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise Open311Error(
            400,
            _("%(name)s must be a whole number from %(low)d to %(high)d.")
            % {"name": name, "low": low, "high": high},
        )
    return number


def paging(params: QueryDict) -> tuple[int, int]:
    """`page` (from 1) and `page_size` (at most 1,000, the spec's cap) as offset and limit."""
    size = integer(params, "page_size", default=MAX_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE)
    page = integer(params, "page", default=1, low=1, high=MAX_PAGE)
    return (page - 1) * size, size


def requests_paging(params: QueryDict) -> tuple[PageCursor | None, int, int]:
    """(cursor, offset, limit) of a `GET requests`. Pages by number reach the first OFFSET_MAX
    requests (deeper, an offset costs what it skips); the `Link` header's `next` carries a cursor,
    which goes anywhere at the cost of one page. A cursor that is not ours is a 400."""
    return _keyset_paging(
        params,
        scope="",
        too_deep=_(
            "pages by number reach the first %(n)d requests only; follow the `next` link of the "
            "Link header (it carries a cursor) to go further."
        ),
    )


def updates_paging(params: QueryDict) -> tuple[PageCursor | None, int, int]:
    """(cursor, offset, limit) of a `GET servicerequestupdates`, as `requests_paging`; its cursors
    are the feed's own (a cursor of `requests` is refused here, and the other way round)."""
    return _keyset_paging(
        params,
        scope=UPDATES_CURSOR_SCOPE,
        too_deep=_(
            "pages by number reach the first %(n)d updates only; follow the `next` link of the "
            "Link header (it carries a cursor) to go further."
        ),
    )


def _keyset_paging(params: QueryDict, *, scope: str, too_deep: str) -> tuple[PageCursor | None, int, int]:
    offset, limit = paging(params)
    text = value(params, "cursor")
    cursor = None
    if text is not None:
        if value(params, "page") is not None:
            raise Open311Error(400, "cursor: " + _("use either page or cursor, not both."))
        try:
            cursor = cursor_decode(text, scope=scope)
        except CursorError as exc:
            raise Open311Error(400, f"cursor: {exc.message} ({exc.code})") from None
    if offset + limit > OFFSET_MAX:
        raise Open311Error(400, "page: " + too_deep % {"n": OFFSET_MAX})
    return cursor, offset, limit


def _number(text: str, name: str) -> float:
    try:
        return parse_number(text, field=name)
    except CoordinateError as exc:
        raise Open311Error(400, exc.message) from None


def _lat_long(lat_text: str, long_text: str) -> tuple[float, float]:
    lat, lon = _number(lat_text, "lat"), _number(long_text, "long")
    if not -90.0 <= lat <= 90.0:
        raise Open311Error(400, _("lat must be between -90 and 90 degrees, got %(v)s.") % {"v": lat})
    if not -180.0 <= lon <= 180.0:
        raise Open311Error(400, _("long must be between -180 and 180 degrees, got %(v)s.") % {"v": lon})
    return lat, lon


def _long(params: QueryDict) -> str | None:
    # The spec's name is `long`; some clients send `lon`, as most map libraries call it.
    return value(params, "long") or value(params, "lon")


def bbox(params: QueryDict) -> tuple[float, float, float, float] | None:
    """`bbox=minLng,minLat,maxLng,maxLat` (the order of GeoJSON and most map libraries)."""
    text = value(params, "bbox")
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) != 4:
        raise Open311Error(400, _("bbox must be four numbers: minLng,minLat,maxLng,maxLat."))
    min_lon, min_lat, max_lon, max_lat = (_number(part, "bbox") for part in parts)
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise Open311Error(
            400, _("bbox must be minLng,minLat,maxLng,maxLat with each minimum below its maximum.")
        )
    return min_lon, min_lat, max_lon, max_lat


def near(params: QueryDict) -> tuple[Point | None, float]:
    """The `lat`, `long`, `radius` (metres, 1,000 when left out) search around a point."""
    lat_text, long_text, radius_text = value(params, "lat"), _long(params), value(params, "radius")
    if lat_text is None and long_text is None:
        if radius_text is not None:
            raise Open311Error(400, _("radius needs lat and long."))
        return None, 0.0
    if lat_text is None or long_text is None:
        raise Open311Error(400, _("lat and long must be given together."))
    lat, lon = _lat_long(lat_text, long_text)
    radius = DEFAULT_RADIUS_M if radius_text is None else _number(radius_text, "radius")
    if not 0 < radius <= MAX_RADIUS_M:
        raise Open311Error(
            400, _("radius must be more than 0 and at most %(max)d metres.") % {"max": int(MAX_RADIUS_M)}
        )
    return Point(lon, lat, srid=GEO_SRID), radius


def report_location(params: QueryDict) -> Point | None:
    """The point of a new request. A pair that lies outside the city but inside it when read the
    other way round is refused with a message that says so: clients often send (long, lat)."""
    lat_text, long_text = value(params, "lat"), _long(params)
    if lat_text is None and long_text is None:
        return None
    if lat_text is None or long_text is None:
        raise Open311Error(400, _("lat and long must be given together."))
    lat, lon = _lat_long(lat_text, long_text)
    try:
        return point_from_lat_lon(lat=lat, lon=lon)
    except CoordinateError:
        raise Open311Error(
            400,
            _(
                "lat and long look swapped: lat=%(lat)s, long=%(lon)s is outside the city, but inside it "
                "read the other way round. Send lat=%(lon)s and long=%(lat)s."
            )
            % {"lat": lat, "lon": lon},
        ) from None


_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](?:\[\])?$")


def attributes(params: QueryDict) -> dict[str, list[str]]:
    """`attribute[code]=value` and, for a multi-value list, `attribute[code][]=value` repeated
    (either spelling is accepted for either kind), as code -> non-empty values."""
    found: dict[str, list[str]] = {}
    for key in params:
        match = _ATTRIBUTE.match(key)
        if match:
            values = [v.strip() for v in params.getlist(key) if v.strip()]
            found.setdefault(match.group(1), []).extend(values)
    return found
