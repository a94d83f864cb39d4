"""Reads for the citizen's pages that no lower app offers: finding a district by the name a citizen
types, when they report without the map (an old phone, no GPS, a screen reader, a call read out by
an operator), and a report's public timeline worded for the page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection

from geo.text import normalize_persian
from issues.models import ReportEvent

# Names of the active boundary set's districts (regions and sub-districts; the jurisdiction, level 0,
# is the whole city and says nothing about where a problem is). A city has tens to a few hundred of
# them, so matching runs in Python with the same normaliser the rest of the project uses: ی/ي, ک/ك,
# Persian/Arabic digits and the zero-width non-joiner all compare equal however they were typed.
_DISTRICT_NAMES_SQL = """
    SELECT d.id, d.code, d.name_fa, d.name_en, d.level
      FROM districts_district d
      JOIN districts_boundaryset s ON s.id = d.boundary_set_id AND s.active
     WHERE d.level > 0
     ORDER BY d.level, d.code"""

# The point a district-only report gets: a point on the district's surface (unlike the centroid, it
# always lies inside, even for a crescent-shaped district). For a region, the point is taken outside
# its sub-districts when it has any left over, so routing (deepest level wins) sends the report to
# the region the citizen named rather than to whichever sub-district holds the region's middle.
_POINT_ON_SURFACE_SQL = """
    SELECT d.id, ST_X(pt), ST_Y(pt) FROM districts_district d
     CROSS JOIN LATERAL (
       SELECT ST_Difference(d.boundary, ST_Union(c.boundary)) AS rest
         FROM districts_district c WHERE c.parent_id = d.id) own
     CROSS JOIN LATERAL (
       SELECT ST_PointOnSurface(
                CASE WHEN own.rest IS NULL OR ST_IsEmpty(own.rest) OR ST_Area(own.rest) = 0
                     THEN d.boundary ELSE own.rest END) AS pt) p
     WHERE d.id = ANY(%s)"""


@dataclass(frozen=True)
class PlaceMatch:
    district_id: int
    code: str
    name_fa: str
    name_en: str
    level: int
    lon: float
    lat: float
    # How well the typed text matched: 0 the whole name (or the code), 1 the start of a name, 2 a part.
    rank: int


def district_names() -> list[tuple[str, str, str]]:
    """(code, Persian name, English name) of the active districts, for the search box's suggestions."""
    with connection.cursor() as cursor:
        cursor.execute(_DISTRICT_NAMES_SQL)
        return [(code, name_fa, name_en) for _id, code, name_fa, name_en, _level in cursor.fetchall()]


def place_search(*, query: str, limit: int = 10) -> list[PlaceMatch]:
    """Active districts whose Persian name, English name or code matches the typed text (partial,
    normalised), best first: whole-name matches, then prefixes, then parts; deeper levels first."""
    wanted = normalize_persian(query)
    if not wanted:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_DISTRICT_NAMES_SQL)
        rows = cursor.fetchall()
    ranked: list[tuple[int, int, str, tuple[int, str, str, str, int]]] = []
    for row in rows:
        _id, code, name_fa, name_en, level = row
        names = [normalize_persian(n) for n in (name_fa, name_en, code) if n]
        if wanted in names:
            rank = 0
        elif any(n.startswith(wanted) for n in names):
            rank = 1
        elif any(wanted in n for n in names):
            rank = 2
        else:
            continue
        ranked.append((rank, -level, code, row))
    ranked.sort(key=lambda r: r[:3])
    chosen = [r[3] for r in ranked[:limit]]
    if not chosen:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_POINT_ON_SURFACE_SQL, [[r[0] for r in chosen]])
        points = {pk: (x, y) for pk, x, y in cursor.fetchall()}
    ranks = {r[3][0]: r[0] for r in ranked}
    return [
        PlaceMatch(pk, code, name_fa, name_en, level, *points[pk], rank=ranks[pk])
        for pk, code, name_fa, name_en, level in chosen
    ]


# What a public timeline entry says, from the event's kind and the few flags of its data that are
# about the citizen's own actions; nothing else of `data` (routing details, channels) is read.
TIMELINE_WHAT = ("support", "citizen_info", "citizen_feedback")


def report_public_timeline(*, report_id: int) -> list[dict[str, Any]]:
    """The report's public events, oldest first: at, kind, status (the state it went to), note, and
    `what` (support, citizen_info, fixed, not_fixed, or the kind) so the page can say it in the
    reader's language rather than in the language the event was written in."""
    rows = (
        ReportEvent.objects.filter(report_id=report_id, public=True)
        .order_by("at", "id")
        .values("at", "kind", "to_status", "note", "data")
    )
    timeline = []
    for row in rows:
        data = row["data"] if isinstance(row["data"], dict) else {}
        what = row["kind"]
        if data.get("support"):
            what = "support"
        elif data.get("citizen_info"):
            what = "citizen_info"
        elif data.get("citizen_feedback") in {"fixed", "not_fixed"}:
            what = data["citizen_feedback"]
        timeline.append(
            {
                "at": row["at"],
                "kind": row["kind"],
                "status": row["to_status"],
                "note": row["note"],
                "what": what,
            }
        )
    return timeline
