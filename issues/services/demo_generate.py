"""A few years of generated reports for the Qazvin demo, so the map, the heatmap, the hotspots and the
scorecards have a city's worth of history to show (docs/demo_generated.md).

Every generated report is marked `generated=True`, carries no contact details, and has a tracking code
starting with `99` (the project's 8-letter format: `99` and six letters of the code alphabet). The
whole set is written by a handful of INSERT ... SELECT statements with `generate_series` and
`random()` after `setseed`, never one object at a time: 40,000 reports and their history take a few
seconds. Python only plans what is small: how many reports each day and category gets (seasons,
weekdays, holidays, snow storms), how many points each district gets, the units' profiles, the
hotspots' places, and the city's working calendar as one row per working day, so the SQL counts SLA
time exactly as issues/workflow/sla.py does.

A report's life is drawn whole (acknowledged, started, done, perhaps reopened and done again, verified,
closed, rated; or a side exit: transferred, referred, duplicate, resolved by citizens) and then cut at
`now`: the steps after `now` have not happened yet, so old reports are closed and recent ones are open
in every state. The report's columns (status, acknowledged_at, done_at, closed_at, deadlines, version)
are derived from the same step times as its events, so a scorecard computed from either agrees.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

import jdatetime
from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from districts.models import ServiceArea
from geo.srid import GEO_SRID
from geo.text import normalize_persian
from issues import events
from issues.models import Category, Holiday, Report
from issues.services.tracking import TRACKING_ALPHABET, TRACKING_LENGTH
from issues.workflow.selectors import working_calendar_build
from issues.workflow.sla import WorkingCalendar, working_seconds_between
from issues.workflow.transitions import CITIZEN, SYSTEM

# Who took each step, as the events' `actor_label` (no user: nobody real did it): the staff's steps,
# the citizen's (verify, reopen, resolve, rate) and the automatic close.
GENERATED_ACTOR = "demo_generate"
CITIZEN_ACTOR = CITIZEN
SYSTEM_ACTOR = SYSTEM
# Generated tracking codes: this prefix, then letters of the code alphabet. A citizen's random code
# may begin the same way (1 in 625): the generator checks and steps around any code already taken.
CODE_PREFIX = "99"
CODE_SPACE = len(TRACKING_ALPHABET) ** (TRACKING_LENGTH - len(CODE_PREFIX))
DEFAULT_COUNT = 40_000
DEFAULT_YEARS = 3
DEFAULT_SEED = 137
DEFAULT_HOTSPOTS = 15
# Within this many metres of its centre every report of a hotspot lies (the issue's "within ~50 m").
HOTSPOT_RADIUS_M = 45.0
# The share of a hotspot category's reports that fall on one of its hotspots.
HOTSPOT_SHARE = 0.15

# Per-day weight of each category by Jalali month (Farvardin .. Esfand). Salting and snow clearing
# exist only in the cold months (Dey-Bahman above all, with storms); potholes follow the thaw (Esfand-
# Farvardin); blocked drains and ponding the spring rains; garbage the summer; lamps the whole year.
SEASONS: dict[str, tuple[float, ...]] = {
    "street-salting": (0, 0, 0, 0, 0, 0, 0, 0.4, 4, 26, 20, 5),
    "snow-clearing": (0, 0, 0, 0, 0, 0, 0, 0.2, 2, 13, 11, 3),
    "pothole": (18, 11, 6, 5, 5, 5, 5, 6, 6, 7, 10, 18),
    "sidewalk-damage": (2.5, 2.2, 2, 2, 2, 2, 2, 2, 2, 2, 2.2, 2.5),
    "blocked-drain": (7, 8, 3, 1, 0.8, 0.8, 1.5, 4, 3.5, 2, 2.5, 5),
    "water-ponding": (4, 4, 1.5, 0.3, 0.3, 0.3, 1, 3, 2.5, 1.5, 2, 3.5),
    "bin-overflow": (6, 5, 9, 13, 14, 11, 6, 4, 3.5, 3.5, 3.5, 5),
    "litter": (5, 4, 6, 9, 10, 8, 5, 3.5, 3, 3, 3, 4),
    "construction-debris": (2, 2.5, 2.5, 2.5, 2.5, 2.5, 2, 2, 1.5, 1, 1, 1.5),
    "street-light-out": (4, 4, 4, 4, 4, 4.5, 5, 5.5, 6, 6.5, 6, 5),
    "green-space-damage": (2, 2, 2, 2, 2, 1.5, 1, 1, 0.6, 0.5, 0.5, 1),
    "sidewalk-obstruction": (1.5,) * 12,
    "graffiti": (1,) * 12,
    "stray-animals": (2, 2, 2.5, 2.5, 2.5, 2.5, 2, 2, 1.5, 1.5, 1.5, 2),
    "dead-animal": (1, 1, 1.2, 1.5, 1.5, 1.3, 1, 1, 0.8, 0.8, 0.8, 1),
    "traffic-sign-damaged": (1,) * 12,
    "traffic-light-out": (0.8,) * 12,
    "illegal-construction": (1, 1.2, 1.2, 1.2, 1.2, 1.1, 1, 0.8, 0.6, 0.5, 0.5, 0.8),
}
SNOW_CATEGORIES = frozenset({"street-salting", "snow-clearing"})
# Small jobs neighbours do themselves: a few of these close as resolved by citizens.
CITIZEN_DOABLE = frozenset({"street-salting", "snow-clearing", "blocked-drain", "litter"})
# Which categories recur in one place, and how often each is picked for a hotspot.
HOTSPOT_CATEGORIES: tuple[tuple[str, int], ...] = (
    ("pothole", 4),
    ("blocked-drain", 3),
    ("bin-overflow", 2),
    ("street-salting", 2),
    ("water-ponding", 2),
    ("street-light-out", 1),
    ("litter", 1),
)
# Fridays are the weekend; Thursdays are quieter; public holidays and Nowruz quieter still.
WEEKDAY_WEIGHT = {3: 0.75, 4: 0.45}
HOLIDAY_WEIGHT = 0.6
# Reports by hour of the day, local time: few at night, a morning peak and an evening one.
HOUR_WEIGHTS = (0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.6, 1.5, 3, 4, 4.2, 4, 3.5, 3, 2.8, 2.6, 2.6, 3, 3.4, 3.6, 3.2, 2.4, 1.4, 0.7)  # fmt: skip
CHANNELS = (("phone", 50), ("web", 40), ("open311", 5), ("api", 5))
REFERRAL_TARGETS = ("water", "gas", "power", "telecom")


@dataclass(frozen=True)
class UnitProfile:
    """How a unit works: its median time to acknowledge and to resolve, as a share of the category's
    SLA (1.0: half its reports past the SLA), how often its work is reopened, and how citizens rate it
    (weights of the scores 1 to 5)."""

    ack_factor: float
    resolve_factor: float
    reopen_rate: float
    ratings: tuple[int, int, int, int, int]
    story: str = ""


# A few units with a story to find on the scorecards; the others draw a plain profile from the seed.
SHOWCASE_UNITS: dict[str, UnitProfile] = {
    "roads-r1": UnitProfile(0.15, 0.35, 0.03, (2, 3, 8, 30, 57), "fast and careful"),
    "roads-r2": UnitProfile(2.2, 1.7, 0.18, (26, 24, 24, 16, 10), "slow, mostly past SLA, often reopened"),
    "waste-r3": UnitProfile(0.25, 0.4, 0.22, (14, 20, 26, 24, 16), "quick but sloppy: many reopened"),
    "lighting-r1": UnitProfile(0.4, 2.4, 0.05, (10, 18, 30, 27, 15), "acknowledges at once, fixes late"),
    "snow-north": UnitProfile(0.3, 0.5, 0.04, (3, 5, 12, 35, 45), "salts within the hour"),
    "snow-south": UnitProfile(1.8, 1.9, 0.1, (22, 25, 25, 18, 10), "slow after every snowfall"),
}


@dataclass
class GeneratePlan:
    """What a run writes; everything drawn from `seed`, so the same plan writes the same reports."""

    count: int
    years: float
    seed: int
    hotspots: int
    now: datetime
    first_day: date
    cells: list[tuple[date, int, int]]  # (day, category id, reports)
    by_category: dict[str, int]
    by_month: dict[int, dict[str, int]]  # Jalali month -> category code -> reports
    districts: list[tuple[int, str, int]]  # (id, code, points)
    units: dict[int, tuple[str, UnitProfile]]
    hotspot_specs: list[tuple[int, str, int]]  # (hotspot, category code, pool index of its centre)
    workdays: list[tuple[date, datetime, datetime, int, int]] = field(repr=False, default_factory=list)
    existing: int = 0


@dataclass(frozen=True)
class GenerateResult:
    deleted: int
    reports: int
    events: int
    ratings: int
    checks: int
    by_status: dict[str, int]
    seconds: float


def _cumulative_counts(weights: Sequence[float], total: int) -> list[int]:
    """`total` split in proportion to `weights`, exactly: floor of the running sum, so the parts add up."""
    whole = sum(weights)
    counts, running, given = [], 0.0, 0
    for w in weights:
        running += w
        upto = math.floor(total * running / whole + 1e-9) if whole else 0
        counts.append(upto - given)
        given = upto
    counts[-1] += total - given if counts else 0
    return counts


def _lookup(weights: Sequence[float], slots: int, values: Sequence[Any] | None = None) -> list[Any]:
    """A table of `slots` entries in which each value appears in proportion to its weight: drawing
    one entry at random in SQL draws from the distribution."""
    values = list(values) if values is not None else list(range(len(weights)))
    return [v for v, n in zip(values, _cumulative_counts(weights, slots), strict=True) for _ in range(n)]


def _workdays(
    calendar: WorkingCalendar, first: date, last: date
) -> list[tuple[date, datetime, datetime, int, int]]:
    """One row per working day: its start and end, and the working microseconds before and after it
    since `first`. A point of working time is then a number, and adding N working hours is a search."""
    rows = []
    cumulative = 0
    tz = calendar.timezone
    day = first
    while day <= last:
        midnight = datetime.combine(day, clock_time(), tzinfo=tz)
        span = round(
            working_seconds_between(calendar=calendar, start=midnight, end=midnight + timedelta(days=1)) * 1e6
        )
        if span > 0:
            start = datetime.combine(day, calendar.day_start, tzinfo=tz)
            rows.append((day, start, start + timedelta(microseconds=span), cumulative, cumulative + span))
            cumulative += span
        day += timedelta(days=1)
    return rows


def _unit_profiles(rng: random.Random) -> dict[int, tuple[str, UnitProfile]]:
    profiles: dict[int, tuple[str, UnitProfile]] = {}
    for unit_id, code in ServiceArea.objects.filter(active=True).order_by("code").values_list("id", "code"):
        profile = SHOWCASE_UNITS.get(code)
        if profile is None:
            ack = math.exp(rng.gauss(-1.0, 0.45))
            resolve = math.exp(rng.gauss(-0.5, 0.35))
            good = rng.random()
            ratings = (
                round(4 + 10 * (1 - good)),
                round(6 + 10 * (1 - good)),
                round(18 + 6 * (1 - good)),
                round(30 + 6 * good),
                round(20 + 25 * good),
            )
            profile = UnitProfile(ack, resolve, round(rng.uniform(0.04, 0.1), 3), ratings)
        profiles[unit_id] = (code, profile)
    return profiles


def _leaf_districts() -> list[tuple[int, str, float]]:
    """The active set's deepest districts (sub-districts, or regions without any), with their weight:
    population where every one has it, else area."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT d.id, d.code, d.population, d.area_m2 FROM districts_district d
                 JOIN districts_boundaryset s ON s.id = d.boundary_set_id AND s.active
                WHERE d.level > 0 AND NOT EXISTS (SELECT 1 FROM districts_district c WHERE c.parent_id = d.id)
                ORDER BY d.code"""
        )
        rows = cursor.fetchall()
    by_population = bool(rows) and all(r[2] for r in rows)
    return [(r[0], r[1], float(r[2] if by_population else r[3]) or 1.0) for r in rows]


def demo_generate_plan(
    *,
    count: int = DEFAULT_COUNT,
    years: float = DEFAULT_YEARS,
    seed: int = DEFAULT_SEED,
    hotspots: int = DEFAULT_HOTSPOTS,
    now: datetime | None = None,
) -> GeneratePlan:
    """Plan a run (reads only): reports per day and category, points per district, units, hotspots."""
    if count < 1 or count > 10_000_000:
        raise ValueError("count must be between 1 and 10,000,000.")
    if not 0 < years <= 20:
        raise ValueError("years must be more than 0 and at most 20.")
    if not 0 <= hotspots <= 200:
        raise ValueError("hotspots must be between 0 and 200.")
    now = (now or timezone.now()).replace(microsecond=0)
    rng = random.Random(seed)
    tz = timezone.get_default_timezone()
    today = now.astimezone(tz).date()
    first_day = today - timedelta(days=round(365.25 * years) - 1)
    categories = {
        c.code: c for c in Category.objects.filter(code__in=list(SEASONS), active=True).order_by("code")
    }
    if not categories:
        raise ValueError("No category of the demo is loaded: run `manage.py demo_load` first.")
    districts = _leaf_districts()
    if not districts:
        raise ValueError("No active district is loaded: run `manage.py demo_load` first.")
    holidays = set(Holiday.objects.values_list("date", flat=True))
    # The weather: each winter milder or harder, and snow falls on some days, not every day.
    winters: dict[int, float] = {}
    days = [first_day + timedelta(days=i) for i in range((today - first_day).days + 1)]
    cell_keys: list[tuple[date, int, int, str]] = []
    weights: list[float] = []
    for i, day in enumerate(days):
        jalali = jdatetime.date.fromgregorian(date=day)
        month = jalali.month
        weight = WEEKDAY_WEIGHT.get(day.weekday(), 1.0)
        if day in holidays or (month == 1 and jalali.day <= 13):
            weight *= HOLIDAY_WEIGHT
        weight *= 0.85 + 0.3 * i / max(1, len(days) - 1)  # more citizens use 137 each year
        winter = jalali.year if month >= 7 else jalali.year - 1
        severity = winters.setdefault(winter, rng.uniform(0.6, 1.4))
        storm = (3.0 if rng.random() < 0.25 else 0.35) * severity
        for code, category in categories.items():
            w = SEASONS[code][month - 1] * weight * (storm if code in SNOW_CATEGORIES else 1.0)
            if w > 0:
                cell_keys.append((day, category.pk, month, code))
                weights.append(w)
    counts = _cumulative_counts(weights, count)
    cells: list[tuple[date, int, int]] = []
    by_category: dict[str, int] = {}
    by_month: dict[int, dict[str, int]] = {}
    for (day, category_id, month, code), n in zip(cell_keys, counts, strict=True):
        if n:
            cells.append((day, category_id, n))
            by_category[code] = by_category.get(code, 0) + n
            by_month.setdefault(month, {})
            by_month[month][code] = by_month[month].get(code, 0) + n
    points = _cumulative_counts([w for _i, _c, w in districts], count)
    hot_codes = [code for code, w in HOTSPOT_CATEGORIES if code in categories for _ in range(w)]
    hotspot_specs: list[tuple[int, str, int]] = []
    if hot_codes and hotspots:
        centres = rng.sample(range(1, count + 1), min(hotspots, count))
        for k, centre in enumerate(centres):
            hotspot_specs.append((k + 1, hot_codes[k % len(hot_codes)], centre))
    calendar = working_calendar_build()
    # Far enough ahead for the slowest unit's last step: steps after `now` are cut anyway.
    workdays = _workdays(calendar, first_day - timedelta(days=1), today + timedelta(days=365 * 3))
    return GeneratePlan(
        count=count,
        years=years,
        seed=seed,
        hotspots=len(hotspot_specs),
        now=now,
        first_day=first_day,
        cells=cells,
        by_category=dict(sorted(by_category.items(), key=lambda kv: -kv[1])),
        by_month=by_month,
        districts=[(d[0], d[1], n) for d, n in zip(districts, points, strict=True)],
        units=_unit_profiles(rng),
        hotspot_specs=hotspot_specs,
        workdays=workdays,
        existing=Report.objects.filter(generated=True).count(),
    )


# --- SQL ---------------------------------------------------------------------------------------------


def _pos(ts: str) -> str:
    """The point in working time (microseconds since the first working day) of a timestamp: outside
    working hours, the next working moment."""
    return (
        f"(SELECT w.cum_us + greatest(0, floor(extract(epoch FROM ({ts}) - w.start_ts) * 1e6))::int8 "
        f"FROM gen_work w WHERE w.end_ts > ({ts}) ORDER BY w.end_ts LIMIT 1)"
    )


def _at(pos: str) -> str:
    """The timestamp of a point in working time; a point that ends a working day is that day's end,
    as issues/workflow/sla.deadline_add has it."""
    return (
        f"(SELECT w.start_ts + (({pos}) - w.cum_us) * interval '1 microsecond' "
        f"FROM gen_work w WHERE w.cum_end_us >= ({pos}) ORDER BY w.cum_end_us LIMIT 1)"
    )


def _code(number: str) -> str:
    letters = " || ".join(
        f"substr(%(alphabet)s, mod(({number}) / {len(TRACKING_ALPHABET) ** k}, {len(TRACKING_ALPHABET)})::int + 1, 1)"
        for k in range(TRACKING_LENGTH - len(CODE_PREFIX))
    )
    return f"(%(prefix)s || {letters})"


# Normal draws (Box-Muller) for log-normal durations.
_Z = "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())"
H_US = 3_600_000_000  # a working hour in microseconds

SETUP_SQL = [
    """CREATE TEMP TABLE gen_work (day date PRIMARY KEY, start_ts timestamptz, end_ts timestamptz,
                                   cum_us int8, cum_end_us int8) ON COMMIT DROP""",
    """INSERT INTO gen_work SELECT * FROM unnest(%(wd)s::date[], %(ws)s::timestamptz[], %(we)s::timestamptz[],
                                               %(wc)s::int8[], %(wce)s::int8[])""",
    "CREATE INDEX ON gen_work (end_ts)",
    "CREATE INDEX ON gen_work (cum_end_us)",
    "ANALYZE gen_work",
    """CREATE TEMP TABLE gen_unit ON COMMIT DROP AS
       SELECT * FROM unnest(%(ui)s::int8[], %(uc)s::text[], %(ua)s::float8[], %(ur)s::float8[],
                            %(uo)s::float8[], %(ul)s::text[]) AS u(id, code, ack_factor, resolve_factor,
                                                                   reopen_rate, ratings)""",
    "SELECT setseed(%(seed)s)",
    # Points spread over the districts, in proportion to their population or area, then shuffled.
    """CREATE TEMP TABLE gen_pool ON COMMIT DROP AS
       SELECT row_number() OVER (ORDER BY random()) AS idx, p.district_id, p.geom
         FROM (SELECT x.district_id, (ST_Dump(ST_GeneratePoints(d.boundary, x.n, x.s))).geom AS geom
                 FROM unnest(%(pd)s::int8[], %(pn)s::int[], %(ps)s::int[]) WITH ORDINALITY AS x(district_id, n, s, o)
                 JOIN districts_district d ON d.id = x.district_id
                WHERE x.n > 0
                ORDER BY x.o) p""",
    "CREATE UNIQUE INDEX ON gen_pool (idx)",
    """CREATE TEMP TABLE gen_hot ON COMMIT DROP AS
       SELECT h.id, c.id AS category_id, p.geom, p.district_id,
              (row_number() OVER (PARTITION BY c.id ORDER BY h.id) - 1)::int AS k,
              (count(*) OVER (PARTITION BY c.id))::int AS n
         FROM unnest(%(hi)s::int[], %(hc)s::text[], %(hp)s::int8[]) AS h(id, code, pool)
         JOIN issues_category c ON c.code = h.code
         JOIN gen_pool p ON p.idx = h.pool""",
    # One row per report: its day and category from the plan, an hour of the day, a channel.
    """CREATE TEMP TABLE gen0 ON COMMIT DROP AS
       SELECT row_number() OVER (ORDER BY x.o, s.i) AS gid, x.category_id, c.department_id, c.code AS category_code,
              c.kind, c.sla_acknowledge_hours AS sla_ack, c.sla_resolve_hours AS sla_res,
              (x.day::timestamp + (%(hours)s::int[])[1 + floor(random() * 240)::int] * interval '1 hour'
                 + random() * interval '1 hour') AT TIME ZONE %(tz)s AS created,
              (%(channels)s::text[])[1 + floor(random() * 100)::int] AS channel,
              random() AS u_hot, random() AS u_hot_k, random() AS u_radius, random() AS u_angle
         FROM unnest(%(cd)s::date[], %(cc)s::int8[], %(cn)s::int[]) WITH ORDINALITY AS x(day, category_id, n, o)
         JOIN issues_category c ON c.id = x.category_id
         CROSS JOIN LATERAL generate_series(1, x.n) AS s(i)""",
    # Today's reports cannot be later than now.
    """UPDATE gen0 SET created = %(now)s - random() * (%(now)s - date_trunc('day', %(now)s AT TIME ZONE %(tz)s)
                                                     AT TIME ZONE %(tz)s)
        WHERE created > %(now)s""",
    # Places: a hotspot of the category for a share of its reports, within the radius of the centre;
    # elsewhere a point of the district pool.
    f"""CREATE TEMP TABLE gen1 ON COMMIT DROP AS
       SELECT g.*, h.id AS hot_id,
              CASE WHEN h.id IS NULL THEN p.geom ELSE
                ST_SetSRID(ST_MakePoint(
                  ST_X(h.geom) + o.r * sin(o.a) / (111320 * cos(radians(ST_Y(h.geom)))),
                  ST_Y(h.geom) + o.r * cos(o.a) / 111320), {GEO_SRID}) END AS location,
              COALESCE(h.district_id, p.district_id) AS district_id
         FROM gen0 g
         JOIN gen_pool p ON p.idx = g.gid
         LEFT JOIN LATERAL (SELECT hh.* FROM gen_hot hh
                             WHERE hh.category_id = g.category_id AND g.u_hot < {HOTSPOT_SHARE}
                               AND hh.k = floor(g.u_hot_k * hh.n)::int) h ON true
         CROSS JOIN LATERAL (SELECT {HOTSPOT_RADIUS_M} * sqrt(g.u_radius) AS r, 2 * pi() * g.u_angle AS a) o""",
    "ANALYZE gen1 (hot_id)",
    # A point near a hotspot may lie across a district edge: the district that covers it, as routing.
    """UPDATE gen1 g SET district_id = COALESCE((
         SELECT d.id FROM districts_districtpiece p
           JOIN districts_district d ON d.id = p.district_id
           JOIN districts_boundaryset s ON s.id = d.boundary_set_id
          WHERE s.active AND d.level > 0 AND ST_Covers(p.geom, g.location)
          ORDER BY d.level DESC, d.area_m2 ASC, d.code ASC LIMIT 1), g.district_id)
        WHERE g.hot_id IS NOT NULL""",
    # The unit, as routing chooses it (districts.selectors.SERVICE_AREA_SQL): a unit with its own
    # polygon covering the point, then the unit of the district or its nearest ancestor, then the
    # department's central unit.
    """CREATE TEMP TABLE gen_chain ON COMMIT DROP AS
       WITH RECURSIVE chain(district_id, id, code, parent_id, depth) AS (
         SELECT d.id, d.id, d.code, d.parent_id, 0 FROM districts_district d
          WHERE d.id IN (SELECT DISTINCT district_id FROM gen1)
         UNION ALL
         SELECT c.district_id, d.id, d.code, d.parent_id, c.depth + 1
           FROM districts_district d JOIN chain c ON d.id = c.parent_id WHERE c.depth < 10)
       SELECT district_id, code, depth FROM chain""",
    """CREATE TEMP TABLE gen_route ON COMMIT DROP AS
       SELECT k.department_id, k.district_id, (
         SELECT sa.id FROM (
           SELECT sa.id, 1 + c.depth AS rank, sa.code FROM districts_servicearea sa
             JOIN gen_chain c ON c.district_id = k.district_id AND sa.district_code = c.code
            WHERE sa.department_id = k.department_id AND sa.active
           UNION ALL
           SELECT sa.id, 1000, sa.code FROM districts_servicearea sa
            WHERE sa.department_id = k.department_id AND sa.active AND sa.is_default) sa
          ORDER BY sa.rank, sa.code LIMIT 1) AS service_area_id
         FROM (SELECT DISTINCT department_id, district_id FROM gen1) k""",
    """CREATE TEMP TABLE gen2 ON COMMIT DROP AS
       SELECT g.*, COALESCE(CASE WHEN g.department_id IN (
           SELECT sa.department_id FROM districts_servicearea sa
            WHERE sa.active AND EXISTS (SELECT 1 FROM districts_serviceareapiece p WHERE p.service_area_id = sa.id))
           THEN (SELECT sa.id FROM districts_serviceareapiece p JOIN districts_servicearea sa ON sa.id = p.service_area_id
            WHERE sa.department_id = g.department_id AND sa.active AND ST_Covers(p.geom, g.location)
            ORDER BY sa.code LIMIT 1) END, r.service_area_id) AS unit_id,
              nextval(pg_get_serial_sequence('issues_report', 'id')) AS id
         FROM gen1 g
         JOIN gen_route r ON r.department_id = g.department_id AND r.district_id = g.district_id
        ORDER BY g.gid""",
    "CREATE UNIQUE INDEX ON gen2 (gid)",
    "ANALYZE gen2 (gid, department_id, unit_id)",
]

# The life of each report, drawn whole: the side exits first, then the main line in working time.
FATE_SQL = [
    f"""CREATE TEMP TABLE gen3 ON COMMIT DROP AS
       SELECT g.*, {_pos("g.created")} AS p0,
              central.id AS central_id, random() AS u_fate, random() AS u_dup, random() AS u_reopen,
              random() AS u_check, random() AS u_verify, random() AS u_rate, random() AS u_side,
              {_Z} AS z_ack, {_Z} AS z_res, {_Z} AS z_ack2, {_Z} AS z_res2,
              random() AS u_reopen_wait, random() AS u_check_wait, random() AS u_verify_wait,
              random() AS u_close_wait, random() AS u_rate_wait, random() AS u_citizen, random() AS u_stuck,
              (%(referrals)s::text[])[1 + floor(random() * {len(REFERRAL_TARGETS)})::int] AS referred_to,
              (u.ratings)::int[] AS rating_lookup, u.reopen_rate,
              u.ack_factor, u.resolve_factor, u.id IS NOT NULL AS has_unit
         FROM gen2 g
         LEFT JOIN districts_servicearea central ON central.department_id = g.department_id
                                                AND central.is_default AND central.active
         LEFT JOIN gen_unit u ON u.id = g.unit_id""",
    "CREATE INDEX ON gen3 (hot_id, created) WHERE hot_id IS NOT NULL",
    "ANALYZE gen3 (gid, hot_id)",
    # A duplicate joins the latest report of its hotspot from the fortnight before that is not one.
    """CREATE TEMP TABLE gen_dup ON COMMIT DROP AS
       SELECT g.gid, (SELECT p.id FROM gen3 p
                       WHERE p.hot_id = g.hot_id AND p.created < g.created
                         AND p.created > g.created - interval '14 days' AND p.u_dup >= 0.3
                       ORDER BY p.created DESC LIMIT 1) AS duplicate_of_id
         FROM gen3 g WHERE g.hot_id IS NOT NULL AND g.u_dup < 0.3""",
    """CREATE TEMP TABLE gen4 ON COMMIT DROP AS
       SELECT g.*, d.duplicate_of_id,
              CASE WHEN d.duplicate_of_id IS NOT NULL THEN 'duplicate'
                   WHEN g.u_fate < 0.02 THEN 'refer'
                   WHEN g.u_fate < 0.05 AND g.category_code = ANY(%(doable)s) THEN 'citizens'
                   WHEN g.u_fate >= 0.97 AND g.central_id IS NOT NULL AND g.central_id <> g.unit_id
                        THEN 'transfer'
                   ELSE 'main' END AS fate
         FROM gen3 g LEFT JOIN gen_dup d ON d.gid = g.gid""",
    # Side exits and the transfer: within a few working hours, or a day or so for neighbours.
    f"""CREATE TEMP TABLE gen5 ON COMMIT DROP AS
       SELECT g.*,
              CASE WHEN g.fate = 'citizens' THEN g.created + (2 + 34 * g.u_side) * interval '1 hour'
                   WHEN g.fate <> 'main' THEN {_at(f"g.p0 + (0.2 + 3 * g.u_side) * {H_US}")} END AS t_side,
              CASE WHEN g.fate = 'transfer' THEN g.central_id ELSE g.unit_id END AS work_unit
         FROM gen4 g""",
    # The main line in working hours: acknowledged after a log-normal share of the SLA (the unit's
    # factor its median), started, done; reopened (by a 137 check that found it not fixed, or by the
    # citizen), then acknowledged and done again; verified or not; closed; rated.
    f"""CREATE TEMP TABLE gen6 ON COMMIT DROP AS
       SELECT g.*, b.pb, b.ack_us, b.res_us, b.pb + b.ack_us AS p_ack, b.pb + b.ack_us + b.res_us AS p_done,
              g.u_reopen < COALESCE(pu.reopen_rate, g.reopen_rate, 0.05) AS reopens,
              g.u_check < %(check_share)s AS checked,
              pu.rating_lookup AS work_ratings
         FROM gen5 g
         LEFT JOIN LATERAL (SELECT u.reopen_rate, (u.ratings)::int[] AS rating_lookup, u.ack_factor, u.resolve_factor
                              FROM gen_unit u WHERE u.id = g.work_unit) pu ON true
         CROSS JOIN LATERAL (
           SELECT CASE WHEN g.fate = 'transfer' THEN {_pos("g.t_side")} ELSE g.p0 END AS pb,
                  LEAST(2000 * {H_US}, greatest(0.05 * {H_US}, g.sla_ack * {H_US} * COALESCE(pu.ack_factor, 0.5)
                        * exp(0.8 * g.z_ack + CASE WHEN g.u_stuck < 0.03 THEN 3 ELSE 0 END
                                 + CASE WHEN g.fate = 'transfer' THEN 1.5 ELSE 0 END)))::int8 AS ack_us,
                  LEAST(4000 * {H_US}, greatest(0.2 * {H_US}, g.sla_res * {H_US} * COALESCE(pu.resolve_factor, 0.6)
                        * exp(0.6 * g.z_res + CASE WHEN g.u_stuck >= 0.97 THEN 2.5 ELSE 0 END)))::int8 AS res_us) b
        WHERE g.fate IN ('main', 'transfer')""",
    f"""CREATE TEMP TABLE gen7 ON COMMIT DROP AS
       SELECT g.*, {_at("g.p_ack")} AS t_ack, {_at("g.p_ack + g.res_us / 5")} AS t_start,
              {_at("g.p_done")} AS t_done
         FROM gen6 g""",
    # The 137 check of a share of the done work: a day or two after; it finds the work not fixed
    # exactly when the report is to be reopened (the supervisor reopens it then).
    """CREATE TEMP TABLE gen8 ON COMMIT DROP AS
       SELECT g.*, CASE WHEN g.checked THEN g.t_done + (4 + 44 * g.u_check_wait) * interval '1 hour' END AS t_check,
              CASE WHEN NOT g.reopens THEN NULL
                   WHEN g.checked THEN g.t_done + (4 + 44 * g.u_check_wait) * interval '1 hour'
                   ELSE g.t_done + (6 + 90 * g.u_reopen_wait) * interval '1 hour' END AS t_reopen
         FROM gen7 g""",
    f"""CREATE TEMP TABLE gen9 ON COMMIT DROP AS
       SELECT g.*, r.p_reopen, r.p_ack2,
              {_at("r.p_ack2")} AS t_ack2, {_at("r.p_ack2 + r.res2_us / 5")} AS t_start2,
              {_at("r.p_ack2 + r.res2_us")} AS t_done2
         FROM gen8 g
         CROSS JOIN LATERAL (
           SELECT p.p_reopen, p.p_reopen + LEAST(2000 * {H_US}, greatest(0.05 * {H_US},
                    g.ack_us * exp(0.5 * g.z_ack2)))::int8 AS p_ack2,
                  LEAST(4000 * {H_US}, greatest(0.2 * {H_US}, g.res_us * 0.5 * exp(0.5 * g.z_res2)))::int8 AS res2_us
             FROM (SELECT {_pos("g.t_reopen")} AS p_reopen) p) r
        WHERE g.t_reopen IS NOT NULL
       UNION ALL
       SELECT g.*, NULL::int8, NULL::int8, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz
         FROM gen8 g WHERE g.t_reopen IS NULL""",
    """CREATE TEMP TABLE gen10 ON COMMIT DROP AS
       SELECT g.*, v.t_final_done, v.t_verify, v.verified_by,
              CASE WHEN v.t_verify IS NOT NULL THEN v.t_verify + (1 + 23 * g.u_close_wait) * interval '1 hour'
                   ELSE v.t_final_done + interval '7 days' END AS t_close
         FROM gen9 g
         CROSS JOIN LATERAL (
           SELECT COALESCE(g.t_done2, g.t_done) AS t_final_done,
                  CASE WHEN g.checked AND NOT g.reopens THEN g.t_check
                       WHEN g.u_verify < 0.5 THEN COALESCE(g.t_done2, g.t_done)
                                                  + (2 + 70 * g.u_verify_wait) * interval '1 hour' END AS t_verify,
                  CASE WHEN g.checked AND NOT g.reopens THEN %(staff_actor)s
                       WHEN g.u_citizen < 0.6 THEN %(citizen_actor)s ELSE %(staff_actor)s END AS verified_by) v""",
    "CREATE UNIQUE INDEX ON gen10 (gid)",
    "ANALYZE gen10 (gid)",
    "CREATE UNIQUE INDEX ON gen5 (gid)",
    "ANALYZE gen5 (gid, category_id)",
]

# The steps as events, kept only if they have happened by now. Every kind is written by
# issues/events.py: these are the sources of its bulk writers (the columns each names), and `seq`
# orders the steps a report takes at one instant.
# Each report was received and forwarded to the unit routing chose.
_CREATED_SOURCE = """(
    SELECT g.id AS report_id, 0 AS seq, g.created AS at, 'forwarded' AS to_status, d.code AS district,
           sa.code AS service_area, 'covers' AS rule, 0.0 AS distance_m, g.channel
      FROM gen5 g JOIN districts_district d ON d.id = g.district_id
      LEFT JOIN districts_servicearea sa ON sa.id = g.unit_id) s"""
# The side exits and the transfer.
_SIDE_EXITS_SOURCE = """(
    SELECT g.id AS report_id, 1 AS seq, g.t_side AS at, 'forwarded' AS from_status,
           CASE g.fate WHEN 'refer' THEN 'not_responsible' WHEN 'duplicate' THEN 'duplicate'
                       WHEN 'citizens' THEN 'resolved_by_citizens' ELSE 'transferred' END AS to_status,
           CASE WHEN g.fate = 'citizens' THEN %(citizen_actor)s ELSE %(staff_actor)s END AS actor_label,
           CASE g.fate WHEN 'refer' THEN 'refer' WHEN 'duplicate' THEN 'duplicate'
                       WHEN 'citizens' THEN 'resolve_by_citizens' ELSE 'transfer' END AS action,
           CASE g.fate WHEN 'refer' THEN jsonb_build_object('referred_to', g.referred_to)
                       WHEN 'duplicate' THEN jsonb_build_object('duplicate_of', o.tracking_code)
                       WHEN 'citizens' THEN NULL
                       ELSE jsonb_build_object('from_service_area', sa.code, 'service_area', wa.code) END AS data
      FROM gen5 g
      LEFT JOIN districts_servicearea sa ON sa.id = g.unit_id
      LEFT JOIN districts_servicearea wa ON wa.id = g.work_unit
      LEFT JOIN gen_codes o ON o.id = g.duplicate_of_id
     WHERE g.fate <> 'main') s"""
# The main line, each step with its time (none: not taken).
_MAIN_LINE_SOURCE = """(
    SELECT g.id AS report_id, s.seq, s.at, s.from_status, s.to_status, s.actor_label, s.action, s.data
      FROM gen10 g
      LEFT JOIN districts_servicearea wa ON wa.id = g.work_unit
      CROSS JOIN LATERAL (VALUES
        (2, g.t_ack, CASE WHEN g.fate = 'transfer' THEN 'transferred' ELSE 'forwarded' END, 'acknowledged',
         %(staff_actor)s, 'acknowledge', NULL::jsonb),
        (3, g.t_start, 'acknowledged', 'in_progress', %(staff_actor)s, 'start', NULL),
        (4, g.t_done, 'in_progress', 'done', %(staff_actor)s, 'done', jsonb_build_object('service_area', wa.code)),
        (6, g.t_reopen, 'done', 'reopened', CASE WHEN g.checked THEN %(staff_actor)s ELSE %(citizen_actor)s END,
         'reopen', NULL),
        (7, g.t_ack2, 'reopened', 'acknowledged', %(staff_actor)s, 'acknowledge', NULL),
        (8, g.t_start2, 'acknowledged', 'in_progress', %(staff_actor)s, 'start', NULL),
        (9, g.t_done2, 'in_progress', 'done', %(staff_actor)s, 'done', jsonb_build_object('service_area', wa.code)),
        (10, g.t_verify, 'done', 'verified', g.verified_by, 'verify', NULL),
        (11, g.t_close, CASE WHEN g.t_verify IS NULL THEN 'done' ELSE 'verified' END, 'closed',
         CASE WHEN g.t_verify IS NULL THEN %(system_actor)s ELSE %(staff_actor)s END, 'close', NULL)
      ) AS s(seq, at, from_status, to_status, actor_label, action, data)
     WHERE s.at IS NOT NULL) s"""
# The 137 checks.
_CHECKED_SOURCE = """(
    SELECT g.id AS report_id, 5 AS seq, g.t_check AS at, %(staff_actor)s AS actor_label,
           CASE WHEN g.reopens THEN 'not_fixed' ELSE 'confirmed' END AS outcome, 'call_back' AS method
      FROM gen10 g WHERE g.t_check IS NOT NULL) s"""
# The ratings, a while after the closing.
_RATED_SOURCE = """(
    SELECT g.id AS report_id, 12 AS seq, g.t_close + (1 + 71 * g.u_rate_wait) * interval '1 hour' AS at,
           greatest(1, g.work_ratings[1 + floor(g.u_rate / %(rate_share)s * 100)::int]
                       - CASE WHEN g.reopens THEN 1 ELSE 0 END) AS score
      FROM gen10 g WHERE g.u_rate < %(rate_share)s AND g.work_ratings IS NOT NULL) s"""
_EVENT_SELECTS = (
    events.created_events_select(source=_CREATED_SOURCE),
    events.status_changed_events_select(source=_SIDE_EXITS_SOURCE),
    events.status_changed_events_select(source=_MAIN_LINE_SOURCE),
    events.verification_events_select(source=_CHECKED_SOURCE),
    events.rated_events_select(source=_RATED_SOURCE),
)
EVENTS_SQL = (
    "CREATE TEMP TABLE gen_ev ON COMMIT DROP AS SELECT * FROM (\n"
    + "\nUNION ALL\n".join(_EVENT_SELECTS)
    + "\n) e WHERE e.at <= %(now)s"
)

REPORTS_SQL = [
    EVENTS_SQL,
    "ANALYZE gen_ev (report_id, kind)",
    # Where each report stands now: the last step that has happened.
    """CREATE TEMP TABLE gen_now ON COMMIT DROP AS
       SELECT e.report_id,
              (array_agg(e.to_status ORDER BY e.at DESC, e.seq DESC)
                 FILTER (WHERE e.kind IN ('created', 'status')))[1] AS status,
              count(*) FILTER (WHERE e.kind = 'status') AS steps,
              max(e.at) FILTER (WHERE e.kind IN ('created', 'status')) AS updated
         FROM gen_ev e GROUP BY e.report_id""",
    "CREATE UNIQUE INDEX ON gen_now (report_id)",
    "ANALYZE gen_now (report_id)",
    f"""INSERT INTO issues_report
         (id, tracking_code, city, category_id, kind, description, location, address, status, channel,
          district_id, service_area_id, routing_rule, routing_distance_m, routed_at,
          reporter_name, reporter_phone, reporter_email, consent_contact, idempotency_fingerprint,
          attributes, support_count, description_search, expected_at, acknowledge_due_at, version,
          acknowledged_at, done_at, closed_at, duplicate_of_id, referred_to, messages_stopped, generated,
          created_at, updated_at)
       SELECT g.id, k.tracking_code, %(city)s, g.category_id, g.kind, t.description, g.location, '', n.status,
              g.channel, g.district_id,
              CASE WHEN g.fate = 'transfer' AND g.t_side <= %(now)s THEN g.work_unit ELSE g.unit_id END,
              'covers', 0, CASE WHEN g.fate = 'transfer' AND g.t_side <= %(now)s THEN g.t_side ELSE g.created END,
              '', '', '', false, '', '{{}}'::jsonb, 0, t.description_search,
              CASE WHEN g.sla_res > 0 THEN {_at(f"c.p_clock + g.sla_res * {H_US}")} END,
              CASE WHEN g.sla_ack > 0 THEN {_at(f"c.p_ack_clock + g.sla_ack * {H_US}")} END,
              1 + n.steps,
              CASE WHEN m.t_ack <= %(now)s THEN m.t_ack END,
              CASE WHEN m.t_reopen <= %(now)s THEN CASE WHEN m.t_done2 <= %(now)s THEN m.t_done2 END
                   WHEN m.t_done <= %(now)s THEN m.t_done END,
              CASE WHEN n.status IN ('closed', 'not_responsible', 'duplicate', 'resolved_by_citizens')
                   THEN COALESCE(CASE WHEN m.t_close <= %(now)s THEN m.t_close END, g.t_side) END,
              CASE WHEN g.fate = 'duplicate' AND g.t_side <= %(now)s THEN g.duplicate_of_id END,
              CASE WHEN g.fate = 'refer' AND g.t_side <= %(now)s THEN g.referred_to ELSE '' END,
              false, true, g.created, n.updated
         FROM gen5 g
         JOIN gen_now n ON n.report_id = g.id
         JOIN gen_codes k ON k.gid = g.gid
         JOIN gen_text t ON t.category_id = g.category_id
         LEFT JOIN gen10 m ON m.gid = g.gid
         CROSS JOIN LATERAL (
           SELECT CASE WHEN m.t_reopen <= %(now)s THEN m.p_reopen ELSE g.p0 END AS p_clock,
                  CASE WHEN m.t_reopen <= %(now)s THEN m.p_reopen
                       WHEN g.fate = 'transfer' AND g.t_side <= %(now)s THEN m.pb ELSE g.p0 END AS p_ack_clock) c
        ORDER BY g.gid""",
    events.report_events_bulk_insert_sql(staging="gen_ev"),
    """INSERT INTO issues_verificationcheck (report_id, service_area_id, outcome, method, checked_by_id,
                                             created_at, checked_at)
       SELECT g.id, g.work_unit,
              CASE WHEN g.t_check > %(now)s THEN 'pending' WHEN g.reopens THEN 'not_fixed' ELSE 'confirmed' END,
              CASE WHEN g.t_check > %(now)s THEN '' ELSE 'call_back' END, NULL, g.t_done,
              CASE WHEN g.t_check <= %(now)s THEN g.t_check END
         FROM gen10 g WHERE g.t_check IS NOT NULL AND g.t_done <= %(now)s""",
    """INSERT INTO issues_satisfactionrating (report_id, service_area_id, score, reasons, comment, created_at)
       SELECT g.id, g.work_unit, (e.data ->> 'score')::int, '{}', '', e.at
         FROM gen_ev e JOIN gen10 g ON g.id = e.report_id WHERE e.kind = 'rated'""",
]


def _codes_sql() -> str:
    number = f"mod(g.gid * %(mult)s::int8 + %(offset)s::int8 + g.salt * 7919, {CODE_SPACE})"
    return f"UPDATE gen_codes g SET tracking_code = {_code(number)}"


def _execute(cursor: Any, sql: str, params: dict[str, Any]) -> None:
    """One statement; with DEMO_GENERATE_TIMING=1 in the environment, its time on stderr."""
    started = time.monotonic()
    cursor.execute(sql, params)
    if os.environ.get("DEMO_GENERATE_TIMING"):
        sys.stderr.write(f"{time.monotonic() - started:6.2f} s  {' '.join(sql.split())[:90]}\n")


def demo_generated_delete() -> int:
    """Delete every generated report and what hangs on it (events, photos, ratings, checks, and any
    other app's rows that point at a report), in a few statements rather than object by object. A
    citizen's report is never deleted; one marked a duplicate of a generated report loses that link."""
    generated = "SELECT id FROM issues_report WHERE generated"
    tables = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        for relation in Report._meta.related_objects:
            model = relation.related_model
            table = model._meta.db_table
            column = relation.field.column
            if table not in tables:
                continue  # a model whose migration is not applied here holds no rows
            if relation.on_delete is models.SET_NULL:
                cursor.execute(f"UPDATE {table} SET {column} = NULL WHERE {column} IN ({generated})")  # noqa: S608
            elif relation.on_delete is models.CASCADE and not model._meta.related_objects:
                cursor.execute(f"DELETE FROM {table} WHERE {column} IN ({generated})")  # noqa: S608
            else:  # rows with dependents of their own, or protected: the ORM's rules
                model._default_manager.filter(**{f"{relation.field.name}__generated": True}).delete()
        cursor.execute("DELETE FROM issues_report WHERE generated")
        return cursor.rowcount


@transaction.atomic
def demo_generate(*, plan: GeneratePlan) -> GenerateResult:
    """Replace the generated set with the one `plan` describes (citizens' reports untouched)."""
    started = time.monotonic()
    deleted = demo_generated_delete()
    if os.environ.get("DEMO_GENERATE_TIMING"):
        sys.stderr.write(f"{time.monotonic() - started:6.2f} s  deleting the generated set\n")
    tz = str(timezone.get_default_timezone())
    rng = random.Random(plan.seed)
    categories = {c.pk: c for c in Category.objects.filter(pk__in={c for _d, c, _n in plan.cells})}
    texts = {pk: f"{c.name_fa}." for pk, c in categories.items()}
    params: dict[str, Any] = {
        "seed": (plan.seed % 1_000_003) / 1_000_003 * 2 - 1,
        "now": plan.now,
        "tz": tz,
        "city": settings.OPEN137_CITY,
        "alphabet": TRACKING_ALPHABET,
        "prefix": CODE_PREFIX,
        "wd": [w[0] for w in plan.workdays],
        "ws": [w[1] for w in plan.workdays],
        "we": [w[2] for w in plan.workdays],
        "wc": [w[3] for w in plan.workdays],
        "wce": [w[4] for w in plan.workdays],
        "ui": list(plan.units),
        "uc": [code for code, _p in plan.units.values()],
        "ua": [p.ack_factor for _c, p in plan.units.values()],
        "ur": [p.resolve_factor for _c, p in plan.units.values()],
        "uo": [p.reopen_rate for _c, p in plan.units.values()],
        "ul": [
            "{" + ",".join(str(v) for v in _lookup(p.ratings, 100, [1, 2, 3, 4, 5])) + "}"
            for _c, p in plan.units.values()
        ],
        "pd": [d[0] for d in plan.districts],
        "pn": [d[2] for d in plan.districts],
        "ps": [rng.randrange(1, 2**31 - 1) for _d in plan.districts],
        "hi": [h[0] for h in plan.hotspot_specs],
        "hc": [h[1] for h in plan.hotspot_specs],
        "hp": [h[2] for h in plan.hotspot_specs],
        "hours": _lookup(HOUR_WEIGHTS, 240),
        "channels": _lookup([w for _c, w in CHANNELS], 100, [c for c, _w in CHANNELS]),
        "cd": [c[0] for c in plan.cells],
        "cc": [c[1] for c in plan.cells],
        "cn": [c[2] for c in plan.cells],
        "referrals": list(REFERRAL_TARGETS),
        "doable": sorted(CITIZEN_DOABLE),
        "check_share": float(settings.OPEN137_VERIFY_SAMPLE_SHARE),
        "rate_share": 0.35,
        "staff_actor": GENERATED_ACTOR,
        "citizen_actor": CITIZEN_ACTOR,
        "system_actor": SYSTEM_ACTOR,
    }
    with connection.cursor() as cursor:
        # The temporary tables (a few tens of MB) in memory rather than spilled to disk: possible only
        # before the session's first temporary table, hence the savepoint.
        try:
            with transaction.atomic():
                cursor.execute("SET LOCAL temp_buffers = '512MB'")
        except DatabaseError:
            pass
        # Plans of a few seconds: compiling them (JIT) costs more than it saves; sorts stay in memory.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        for sql in SETUP_SQL:
            _execute(cursor, sql, params)
        # Tracking codes: an affine map of the row number (a bijection of the code space), so the
        # generated codes never clash with each other; any that a citizen's report already holds is
        # drawn again with another salt.
        _execute(
            cursor,
            """CREATE TEMP TABLE gen_codes ON COMMIT DROP AS
               SELECT gid, id, 0 AS salt, ''::text AS tracking_code FROM gen2""",
            params,
        )
        mult = rng.randrange(1, CODE_SPACE // 5) * 5 + 1  # not a multiple of 5: a bijection mod 25^n
        offset = rng.randrange(CODE_SPACE)
        salt = 0
        while True:
            _execute(cursor, _codes_sql(), {**params, "mult": mult, "offset": offset, "salt": salt})
            cursor.execute(
                """UPDATE gen_codes g SET salt = salt + 1
                    WHERE EXISTS (SELECT 1 FROM issues_report r WHERE r.tracking_code = g.tracking_code)
                       OR g.tracking_code IN (SELECT tracking_code FROM gen_codes GROUP BY 1 HAVING count(*) > 1)"""
            )
            if not cursor.rowcount:
                break
            salt += 1
            if salt > 20:
                raise RuntimeError("Could not find free tracking codes for the generated reports.")
        cursor.execute("CREATE UNIQUE INDEX ON gen_codes (id)")
        cursor.execute("CREATE UNIQUE INDEX ON gen_codes (gid)")
        cursor.execute("ANALYZE gen_codes")
        cursor.execute(
            """CREATE TEMP TABLE gen_text ON COMMIT DROP AS
               SELECT * FROM unnest(%s::int8[], %s::text[], %s::text[]) AS t(category_id, description,
                                                                         description_search)""",
            [list(texts), list(texts.values()), [normalize_persian(t) for t in texts.values()]],
        )
        for sql in FATE_SQL:
            _execute(cursor, sql, params)
        counts: dict[str, int] = {}
        for sql in REPORTS_SQL:
            _execute(cursor, sql, params)
            if sql.lstrip().startswith("INSERT INTO"):
                counts[sql.split()[2]] = cursor.rowcount
        # Tens of thousands of rows written at once: without fresh statistics the planner takes the
        # tables for the few rows they held before, and the next reads (the demo's own sample
        # reports, the scorecards) loop over every report for every event.
        for table in ("issues_report", "issues_reportevent", "issues_satisfactionrating"):
            cursor.execute(f"ANALYZE {table}")  # noqa: S608 (our own tables)
        cursor.execute(
            "SELECT status, count(*) FROM issues_report WHERE generated GROUP BY 1 ORDER BY 2 DESC"
        )
        by_status = dict(cursor.fetchall())
        for table in (
            "gen_now",
            "gen_ev",
            "gen_text",
            "gen_codes",
            *(f"gen{i}" for i in range(10, -1, -1)),
            "gen_dup",
            "gen_route",
            "gen_chain",
            "gen_hot",
            "gen_pool",
            "gen_unit",
            "gen_work",
        ):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")  # noqa: S608 (names of our own temp tables)
    return GenerateResult(
        deleted=deleted,
        reports=counts["issues_report"],
        events=counts["issues_reportevent"],
        checks=counts["issues_verificationcheck"],
        ratings=counts["issues_satisfactionrating"],
        by_status=by_status,
        seconds=time.monotonic() - started,
    )
