"""Data the measures run on: real OpenStreetMap county boundaries and seeded random points.

Everything is generated from fixed inputs (the OSM files, a fixed seed), so two runs measure the same
work and their figures can be compared.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

# The real county polygons, kept in the repository with their OpenStreetMap attribution.
SHARED_OSM = Path(__file__).resolve().parent.parent / "tests" / "data" / "osm"
COUNTY_FILES = (
    SHARED_OSM / "qazvin_province_counties.geojson",
    SHARED_OSM / "tehran_province_counties.geojson",
)
SEED = 137


@dataclass(frozen=True)
class County:
    code: str  # the OSM relation id
    name_fa: str
    name_en: str
    geometry: dict[str, object]  # GeoJSON MultiPolygon, lon/lat


@cache
def counties() -> tuple[County, ...]:
    """The county (shahrestan) polygons of Qazvin and Tehran provinces, as OSM exports them.

    The files also carry Point features (admin centres, labels): only the MultiPolygons are counties.
    """
    found: list[County] = []
    for path in COUNTY_FILES:
        for feature in json.loads(path.read_text(encoding="utf-8"))["features"]:
            geometry = feature["geometry"]
            if geometry["type"] != "MultiPolygon":
                continue
            props = feature["properties"]
            tags = props.get("tags") or {}
            found.append(
                County(
                    code=str(props["id"]),
                    name_fa=tags.get("name") or tags.get("name:fa") or str(props["id"]),
                    name_en=tags.get("name:en", ""),
                    geometry=geometry,
                )
            )
    return tuple(found)


def counties_bbox() -> tuple[float, float, float, float]:
    """(min lon, min lat, max lon, max lat) around every county of both provinces."""
    xs: list[float] = []
    ys: list[float] = []
    for county in counties():
        for polygon in county.geometry["coordinates"]:  # type: ignore[attr-defined]
            for ring in polygon:
                for x, y in ring:
                    xs.append(x)
                    ys.append(y)
    return min(xs), min(ys), max(xs), max(ys)


def counties_fingerprint() -> str:
    """Changes when the source files or the subdivision setting change (then the set is rebuilt)."""
    from django.conf import settings

    digest = hashlib.sha1(usedforsecurity=False)
    for path in COUNTY_FILES:
        digest.update(path.read_bytes())
    digest.update(str(settings.OPEN137_SUBDIVIDE_MAX_VERTICES).encode())
    return digest.hexdigest()[:12]


def counties_boundary_set_ensure() -> int:
    """Load the counties as the active boundary set (level 1 = region, code = OSM id); returns its id.

    Loaded once per fingerprint through the project's own services, so the pieces and areas are
    exactly what an import would produce; later runs only re-activate it. Earlier sets are left in
    place, as the project does with any superseded boundary set.
    """
    from django.contrib.gis.geos import GEOSGeometry
    from django.db import transaction

    from districts.models import BoundarySet, DistrictLevel
    from districts.services import boundary_set_activate, boundary_set_create, district_create

    name = f"bench: OSM counties of Qazvin and Tehran provinces [{counties_fingerprint()}]"
    boundary_set = BoundarySet.objects.filter(name=name).first()
    if boundary_set is None:
        print(f"[bench] loading {len(counties())} OSM county polygons into a new boundary set", flush=True)
        with transaction.atomic():
            boundary_set = boundary_set_create(
                name=name, source=", ".join(str(p) for p in COUNTY_FILES), notes="Created by make bench."
            )
            for county in counties():
                district_create(
                    boundary_set=boundary_set,
                    code=county.code,
                    name_fa=county.name_fa,
                    name_en=county.name_en,
                    boundary=GEOSGeometry(json.dumps(county.geometry), srid=4326),
                    level=DistrictLevel.REGION,
                )
    if not boundary_set.active:
        boundary_set_activate(boundary_set=boundary_set)
    return boundary_set.pk


def random_points(n: int, *, seed: int = SEED) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """`n` uniform random (lon, lat) points in the counties' bounding box, the same for a given seed.

    The box is larger than the provinces, so a share of points falls outside every county: the
    "outside" answer (None) is measured too.
    """
    min_x, min_y, max_x, max_y = counties_bbox()
    rng = np.random.default_rng(seed)
    return rng.uniform(min_x, max_x, n), rng.uniform(min_y, max_y, n)


# --- A small city with reports, for the API measures ---------------------------------------------

BENCH_DEPARTMENT = "bench-roads"
BENCH_CATEGORY = "bench-pothole"
_DESCRIPTIONS = (
    "چاله عمیق وسط خیابان، خودروها آسیب می‌بینند",
    "آسفالت کنار جدول نشست کرده است",
    "دریچه فاضلاب بدون درپوش",
    "ترک‌های بزرگ روی سواره‌رو بعد از بارندگی",
    "پیاده‌رو شکسته و برای سالمندان خطرناک است",
    "Pothole near the bus stop, about half a metre wide",
)
# Statuses as a live city has them: most reports still open, some done or closed.
_STATUSES = (
    ("received", 8),
    ("forwarded", 4),
    ("acknowledged", 3),
    ("in_progress", 3),
    ("done", 2),
    ("closed", 4),
    ("duplicate", 1),
)


@dataclass(frozen=True)
class BenchCity:
    """The bench's department (roads) and its category, on the counties' boundary set: half of the
    counties have a unit of their own (a service area following the county), the rest fall to the
    department's central unit."""

    department_id: int
    category_id: int
    category_code: str


def bench_city_ensure() -> BenchCity:
    """Create (once) what the API measures report to; the counties' boundary set is made active."""
    from districts.models import Department, ServiceArea
    from districts.services import department_create, service_area_create
    from issues.models import Category, MessageKind

    counties_boundary_set_ensure()
    department = Department.objects.filter(code=BENCH_DEPARTMENT).first() or department_create(
        code=BENCH_DEPARTMENT, name_fa="معاونت فنی و عمرانی (بنچ)", name_en="Roads (bench)"
    )
    category, _created = Category.objects.update_or_create(
        code=BENCH_CATEGORY,
        defaults={
            "name_fa": "چاله و خرابی آسفالت",
            "name_en": "Pothole",
            "department": department,
            "kind": MessageKind.SERVICE_REQUEST,
            "location_required": True,
            "active": True,
        },
    )
    units = [("central", "", True)] + [
        (code, code, False) for code in sorted(c.code for c in counties())[::2]
    ]
    for suffix, district_code, is_default in units:
        code = f"{BENCH_DEPARTMENT}-{suffix}"
        if not ServiceArea.objects.filter(code=code).exists():
            service_area_create(
                department=department,
                code=code,
                unit_name_fa=f"واحد راه {suffix}",
                unit_name_en=f"Roads unit {suffix}",
                district_code=district_code,
                is_default=is_default,
            )
    return BenchCity(department.pk, category.pk, category.code)


def points_in_counties(n: int, *, seed: int) -> list[tuple[float, float]]:
    """`n` seeded random (lon, lat) points inside the counties (reports are made where people are)."""
    import shapely
    from shapely.geometry import shape

    union = shapely.union_all([shape(c.geometry) for c in counties()])
    shapely.prepare(union)
    lons, lats = random_points(n * 5, seed=seed)
    inside = shapely.contains_xy(union, lons, lats)
    points = list(zip(lons[inside].tolist(), lats[inside].tolist(), strict=True))[:n]
    if len(points) < n:
        raise RuntimeError(f"only {len(points)} of {n} random points fell inside the counties")
    return points


def reports_seed(city: BenchCity, n: int) -> int:
    """Replace every report of the bench category with `n` seeded ones; returns how many there are.

    Each is routed by the project's own `route_point` and stored with the routing fields, the created
    event and the tokens that `report_submit` writes; every tenth has a public photo row (no file:
    the list only names it). Bulk inserts, then `created_at` spread over the last weeks, newest last.
    """
    import random

    from django.conf import settings
    from django.contrib.gis.geos import Point
    from django.db import connection, transaction

    from districts.selectors import Routing, route_point
    from geo.srid import GEO_SRID
    from geo.text import normalize_persian
    from issues.events import created_events_bulk_create
    from issues.formats import token_hash
    from issues.models import Channel, Report, ReportPhoto, ReportStatus
    from issues.services.intake import routing_fields
    from issues.services.tracking import TRACKING_ALPHABET, TRACKING_LENGTH

    rng = random.Random(SEED)
    statuses = [status for status, weight in _STATUSES for _ in range(weight)]
    channels = (Channel.WEB, Channel.WEB, Channel.API, Channel.PHONE)
    codes: set[str] = set()
    while len(codes) < n:
        codes.add("".join(rng.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH)))
    with transaction.atomic():
        Report.objects.filter(category_id=city.category_id).delete()
        reports: list[Report] = []
        created: list[tuple[Report, str, Routing, str]] = []
        for index, ((lon, lat), code) in enumerate(
            zip(points_in_counties(n, seed=SEED + 1), sorted(codes), strict=True)
        ):
            point = Point(lon, lat, srid=GEO_SRID)
            routing = route_point(point=point, department_id=city.department_id)
            description = f"{_DESCRIPTIONS[index % len(_DESCRIPTIONS)]} ({index + 1})"
            channel = channels[index % len(channels)]
            report = Report(
                tracking_code=code,
                city=settings.OPEN137_CITY,
                category_id=city.category_id,
                kind="service_request",
                description=description,
                description_search=normalize_persian(description),
                location=point,
                channel=channel,
                status=rng.choice(statuses),
                support_count=rng.choice((0, 0, 0, 1, 2, 5)),
                private_token_hash=token_hash(f"bench-{code}"),
                open311_token=f"bench{code}".ljust(32, "0")[:32],
                **routing_fields(routing),  # type: ignore[arg-type]
            )
            reports.append(report)
            # Received, and forwarded at once when routing found a unit (report_create's rule).
            status = ReportStatus.FORWARDED if routing.service_area else ReportStatus.RECEIVED
            created.append((report, status, routing, channel))
        Report.objects.bulk_create(reports, batch_size=500)
        created_events_bulk_create(created=created)
        ReportPhoto.objects.bulk_create(
            [
                ReportPhoto(report=r, image=f"reports/bench/{r.tracking_code}.jpg", width=1600, height=1200)
                for r in reports[::10]
            ],
            batch_size=500,
        )
        with connection.cursor() as cursor:
            cursor.execute(
                """UPDATE issues_report r SET created_at = s.at, updated_at = s.at
                     FROM (SELECT id, now() - row_number() OVER (ORDER BY id DESC) * interval '17 minutes' AS at
                             FROM issues_report WHERE category_id = %s) s
                    WHERE r.id = s.id""",
                [city.category_id],
            )
    # Every measure starts from the same tables, whatever ran before: the rows deleted above and by
    # earlier runs (the POST measure files thousands and deletes them) are cleared and the tables and
    # their indexes compacted, as the bare view's table is truncated. Left to autovacuum, a table
    # grown ten times over by dead rows made each INSERT and read cost more from run to run.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (FULL, ANALYZE) issues_report, issues_reportevent, issues_reportphoto")
    return Report.objects.filter(category_id=city.category_id).count()
