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
