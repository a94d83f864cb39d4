"""Boundary import: a GIS file of district polygons becomes a new boundary set.

A city's GIS office sends its districts as whatever its software writes (Shapefile, GeoPackage,
GeoJSON, KML, often in the local UTM zone, sometimes 3D from a survey, sometimes with a
self-intersecting ring). The import reads any format GDAL reads, brings every polygon to the storage
form (2D, SRID 4326, valid MultiPolygon) and says what it had to change.

An import replaces one level (jurisdiction, regions or sub-districts) and never edits the active set
in place: it builds a new `BoundarySet` holding the imported districts plus a copy of the active
set's other levels, so reports routed before keep the district rows they were routed to. Without
`commit` everything runs in one transaction that is rolled back at the end (a dry run that still
measures overlaps, gaps, the area that changes hands and how many open reports would move); with
`commit` the new set is activated in the same transaction: all or nothing. The transaction holds the
boundaries lock (`districts.services.boundaries_lock`) from before it reads the active set: two imports,
or an import and an edit of a district, run one after the other, and neither is lost.

The area that changes hands: per district code, where the new set differs from the active one
(`districts.changes`, the same computation `reroute` uses), with its area on the spheroid; the open
reports that would move are the ones in that area whose district differs between the two sets.

Nested properties: GDAL reads a property that holds a JSON object (OpenStreetMap exports put every
tag in `tags`) as one text field. A dotted field path such as `tags.name` or `tags.name:en` names a
key inside such a field; a field whose own name contains a dot is matched first.

Other levels: districts of the active set at levels other than the imported one are copied into the
new set. A copied district whose parent is at the imported level is re-linked to the imported
district with the same code; when that code is gone, to the imported district that covers its
interior point (reported); when none does, it is kept without a parent and a warning says so.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from django.contrib.gis.gdal import (
    CoordTransform,
    DataSource,
    GDALException,
    OGRGeometry,
    SpatialReference,
)
from django.contrib.gis.gdal.error import SRSException
from django.contrib.gis.gdal.feature import Feature
from django.contrib.gis.gdal.layer import Layer
from django.contrib.gis.gdal.prototypes import ds as ds_api
from django.contrib.gis.gdal.prototypes import geom as geom_api
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from districts.changes import AreaChange, DistrictMove, changed_area_build, changed_area_moves
from districts.models import BoundarySet, District, DistrictLevel
from districts.services import boundaries_lock, boundary_set_activate, boundary_set_create, district_create
from geo.srid import GEO_SRID

# Overlaps and gaps smaller or thinner than this are noise, not a boundary problem worth a planner's
# time: a shared edge digitised twice, or a straight UTM edge that meets a neighbour's vertex (a
# T-junction) and bends a few millimetres away from it once reprojected to longitude/latitude. They
# are counted as slivers, not listed.
MIN_REPORTED_AREA_M2 = 1.0
MIN_REPORTED_WIDTH_M = 0.1
# A ring's area (in squared degrees) below this is a line or a point drawn as a ring (~0.01 m²).
_MIN_RING_AREA_DEG2 = 1e-12
# OGR geometry type codes, flattened (no Z/M flags): the ones that can hold an area.
_POLYGONAL = {3: "Polygon", 6: "MultiPolygon", 10: "CurvePolygon", 12: "MultiSurface"}
_COLLECTION = 7
_UNKNOWN = 0
_TYPE_NAMES = {
    1: "Point",
    2: "LineString",
    4: "MultiPoint",
    5: "MultiLineString",
    7: "GeometryCollection",
    8: "CircularString",
    9: "CompoundCurve",
    11: "MultiCurve",
    15: "PolyhedralSurface",
    16: "TIN",
    17: "Triangle",
    100: "None",
    **_POLYGONAL,
}
_MAX_LISTED = 10


class BoundaryImportError(Exception):
    """The file cannot be imported as it is; the message says why and what to do."""


@dataclass(frozen=True)
class FeatureRepair:
    code: str
    reason: str  # what GEOS found invalid, e.g. "Self-intersection[50.01 36.27]"
    result: str  # what the repair kept, e.g. "2 polygon(s)"


@dataclass(frozen=True)
class Overlap:
    code_a: str
    code_b: str
    area_m2: float


@dataclass(frozen=True)
class Gap:
    area_m2: float
    lat: float  # a point inside the gap, to find it on a map
    lon: float


@dataclass(frozen=True)
class Relink:
    """A copied district whose parent was at the imported level, and what it hangs from now."""

    code: str
    old_parent: str
    new_parent: str | None
    # "location": its parent's code is gone, the imported district covering it took over;
    # "none": nothing covers it, it is kept without a parent. (Same-code re-links are not listed.)
    how: str


@dataclass
class ImportSummary:
    path: str
    layer: str
    driver: str
    source_srs: str
    level: int
    boundary_set_name: str
    boundary_set_id: int | None  # None after a dry run: the set was rolled back
    committed: bool
    features: int = 0
    codes: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # geometry type -> features not imported
    vertices: int = 0
    repairs: list[FeatureRepair] = field(default_factory=list)
    dropped_rings: dict[str, int] = field(default_factory=dict)  # code -> degenerate rings dropped
    overlaps: list[Overlap] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    slivers: int = 0  # overlaps and gaps too small or thin to list (see MIN_REPORTED_WIDTH_M)
    previous_set: str | None = None
    replaced: int = 0  # districts of the imported level in the previously active set
    copied: dict[int, int] = field(default_factory=dict)  # level -> districts copied from it
    relinked: list[Relink] = field(default_factory=list)
    # Against the previously active set: the districts whose area changes hands (largest first),
    # and per counted kind ("open reports") what would move from which district to which.
    area_changes: list[AreaChange] = field(default_factory=list)
    moves: dict[str, list[DistrictMove]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def skipped_features(self) -> int:
        return sum(self.skipped.values())

    @property
    def dropped_ring_count(self) -> int:
        return sum(self.dropped_rings.values())

    @property
    def overlap_area_m2(self) -> float:
        return sum(o.area_m2 for o in self.overlaps)

    @property
    def gap_area_m2(self) -> float:
        return sum(g.area_m2 for g in self.gaps)

    def moving(self, what: str = "open reports") -> int | None:
        """How many of `what` would change district (None: nothing counts them)."""
        moves = self.moves.get(what)
        return None if moves is None else sum(m.count for m in moves)


@dataclass(frozen=True)
class _FieldPath:
    """Where a value lives: a layer field, and for a JSON-object field the keys inside it."""

    option: str  # as the user wrote it, for messages
    field: str
    keys: str  # the rest of a dotted path ("" when the field holds the value itself)


@dataclass
class _Feature:
    index: int  # 1-based position in the layer, for messages
    code: str
    name_fa: str
    name_en: str
    parent_code: str
    population: int | None
    boundary: MultiPolygon


# --- reading the file ------------------------------------------------------------------------------


def _open_layer(*, path: str, layer: str | None) -> tuple[DataSource, Layer]:
    # GDAL's virtual file systems (/vsizip/, /vsicurl/) have no file on disk to check.
    if not path.startswith("/vsi") and not Path(path).exists():
        raise BoundaryImportError(_("File not found: %(path)s") % {"path": path})
    try:
        source = DataSource(path)
    except GDALException as exc:
        raise BoundaryImportError(
            _("Cannot read %(path)s as a GIS file (GDAL: %(error)s).") % {"path": path, "error": exc}
        ) from None
    names = [source[i].name for i in range(source.layer_count)]
    if not names:
        raise BoundaryImportError(_("%(path)s holds no layer.") % {"path": path})
    if layer is None:
        if len(names) > 1:
            raise BoundaryImportError(
                _("%(path)s holds several layers (%(layers)s): choose one with --layer.")
                % {"path": path, "layers": ", ".join(names)}
            )
        return source, source[0]
    if layer not in names:
        raise BoundaryImportError(
            _("Layer “%(layer)s” not found in %(path)s. Its layers: %(layers)s.")
            % {"layer": layer, "path": path, "layers": ", ".join(names)}
        )
    return source, source[layer]


def _flat_type(num: int) -> int:
    # OGR flags 3D in the high bit (wkb25D) or in the thousands (ISO Z, M, ZM): only the shape matters.
    return (num & 0x7FFFFFFF) % 1000


def _type_name(num: int) -> str:
    return _TYPE_NAMES.get(num, str(num))


def _layer_geometry_type(layer: Layer) -> int:
    # Raw codes: Django's OGRGeomType refuses a few valid ones (ISO "PolygonZ"), which must not
    # stop an import.
    return _flat_type(int(ds_api.get_fd_geom_type(ds_api.get_layer_defn(layer.ptr))))


def _geometry_kind(geometry: OGRGeometry) -> int:
    return _flat_type(int(geom_api.get_geom_type(geometry.ptr)))


def _members(geometry: OGRGeometry | GEOSGeometry) -> list[Any]:
    # Collections of both libraries iterate over their members; the type stubs only know the base.
    collection: Any = geometry
    return list(collection)


def _ogr_polygons(geometry: OGRGeometry) -> list[OGRGeometry]:
    if geometry.has_curve:
        geometry = geometry.get_linear_geometry()
    kind = _geometry_kind(geometry)
    if kind == 3:
        return [geometry]
    if kind in (6, _COLLECTION):
        return [p for member in _members(geometry) for p in _ogr_polygons(member)]
    return []


def _resolve_field(*, option: str, layer: Layer) -> _FieldPath:
    fields = list(layer.fields)
    if option in fields:
        return _FieldPath(option=option, field=option, keys="")
    parts = option.split(".")
    for i in range(len(parts) - 1, 0, -1):
        base = ".".join(parts[:i])
        if base in fields:
            return _FieldPath(option=option, field=base, keys=".".join(parts[i:]))
    message = _("The layer “%(layer)s” has no field “%(field)s”. Its fields are: %(fields)s.") % {
        "layer": layer.name,
        "field": option,
        "fields": ", ".join(fields) or _("(none)"),
    }
    json_fields = _json_fields(layer, fields)
    if json_fields:
        message += " " + _(
            "Fields holding JSON objects (%(fields)s): name a key inside one with a dotted path, e.g. "
            "%(example)s."
        ) % {"fields": ", ".join(json_fields), "example": f"{json_fields[0]}.name"}
    raise BoundaryImportError(message)


def _json_key(value: object, keys: str) -> object:
    # A key may itself contain dots ("addr.street" as one OSM-style key): the longest match wins.
    if not keys:
        return value
    if not isinstance(value, dict):
        return None
    if keys in value:
        return value[keys]
    parts = keys.split(".")
    for i in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:i])
        if head in value:
            return _json_key(value[head], ".".join(parts[i:]))
    return None


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        # Shapefiles store integer codes as reals ("12.0"): a code is what people type, "12".
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value).strip()


def _read_value(feature: Feature, path: _FieldPath) -> object:
    value = feature[path.field].value
    if not path.keys:
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return _json_key(parsed, path.keys)


def _source_srs(*, layer: Layer, srid: int | None) -> SpatialReference:
    if srid is not None:
        try:
            return SpatialReference(srid)
        except (GDALException, SRSException):
            raise BoundaryImportError(_("Unknown SRID %(srid)s.") % {"srid": srid}) from None
    srs = layer.srs
    if srs is None:
        raise BoundaryImportError(
            _(
                "The layer “%(layer)s” has no coordinate reference system (a Shapefile without its .prj?): "
                "give it with --srid, e.g. --srid 32639 for UTM zone 39N or --srid 4326 for longitude/latitude."
            )
            % {"layer": layer.name}
        )
    return srs


def _srs_label(srs: SpatialReference) -> str:
    try:
        srid = srs.srid
    except (GDALException, SRSException):
        srid = None
    if srid:
        return f"EPSG:{srid}"
    return srs.name or "?"


def _ring_area(ring: tuple[tuple[float, ...], ...]) -> float:
    return abs(
        sum(ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1] for i in range(len(ring) - 1)) / 2.0
    )


def _encloses_nothing(ring: tuple[tuple[float, float], ...]) -> bool:
    if _ring_area(ring) >= _MIN_RING_AREA_DEG2:
        return False
    # A net area of zero is also what a bow tie has (its two loops cancel out): only a ring whose
    # repaired form still has no area is a line or a point drawn as a ring.
    return bool(Polygon(ring, srid=GEO_SRID).make_valid().area < _MIN_RING_AREA_DEG2)


def _clean_rings(polygons: list[list[tuple[tuple[float, ...], ...]]]) -> tuple[list[Polygon], int]:
    """Polygons without rings that enclose nothing (too few points, no area), and how many went.

    Such rings come from digitising slips and conversions; GEOS refuses rings of fewer than four
    points outright, and a zero-area ring would only add an invalid sliver.
    """
    kept: list[Polygon] = []
    dropped = 0
    for rings in polygons:
        clean: list[tuple[tuple[float, float], ...]] = []
        for position, ring in enumerate(rings):
            points = tuple((float(p[0]), float(p[1])) for p in ring)
            if points and points[0] != points[-1]:
                points = (*points, points[0])
            if len(points) < 4 or len(set(points)) < 3 or _encloses_nothing(points):
                if position == 0:
                    # Without its outer ring a polygon is nothing: its holes go with it.
                    dropped += len(rings)
                    clean = []
                    break
                dropped += 1
                continue
            clean.append(points)
        if clean:
            kept.append(Polygon(*clean, srid=GEO_SRID))
    return kept, dropped


def _polygon_rings(geometry: OGRGeometry) -> list[list[tuple[tuple[float, ...], ...]]]:
    coords = cast(Any, geometry).tuple
    if _geometry_kind(geometry) == 3:
        return [list(coords)]
    return [list(polygon) for polygon in coords]


def _polygonal_parts(geometry: GEOSGeometry) -> list[Polygon]:
    if isinstance(geometry, Polygon):
        return [] if geometry.empty else [geometry]
    if geometry.geom_type in ("MultiPolygon", "GeometryCollection"):
        parts: list[Polygon] = []
        for member in _members(geometry):
            parts.extend(_polygonal_parts(member))
        return parts
    return []


def _check_degrees(*, geometry: OGRGeometry, label: str, srs_label: str, what: str) -> None:
    xmin, ymin, xmax, ymax = geometry.extent
    if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)) or not (
        -180.0 <= xmin <= xmax <= 180.0 and -90.0 <= ymin <= ymax <= 90.0
    ):
        raise BoundaryImportError(
            _(
                "%(feature)s: its coordinates (%(xmin).6g, %(ymin).6g to %(xmax).6g, %(ymax).6g) %(what)s are "
                "not longitude/latitude, so the file is not in %(srs)s. Give its real coordinate system "
                "with --srid (e.g. --srid 32639 for UTM zone 39N, used around Qazvin and Tehran)."
            )
            % {
                "feature": label,
                "xmin": xmin,
                "ymin": ymin,
                "xmax": xmax,
                "ymax": ymax,
                "what": what,
                "srs": srs_label,
            }
        )


def reproject(
    *,
    geometry: OGRGeometry,
    source_srs: SpatialReference,
    srs_label: str,
    transform: CoordTransform,
    label: str,
) -> None:
    """Bring a feature's geometry from the file's coordinate system to longitude/latitude (in place),
    refusing coordinates that contradict the system the file says it uses. Shared with the gazetteer
    import (issues.places.importing)."""
    # A projected system says metres; values that all fit in ±180/±90 are degrees mislabelled.
    if not source_srs.geographic:
        xmin, ymin, xmax, ymax = geometry.extent
        if -180.0 <= xmin <= xmax <= 180.0 and -90.0 <= ymin <= ymax <= 90.0:
            raise BoundaryImportError(
                _(
                    "%(feature)s: its coordinates look like longitude/latitude degrees, but the "
                    "coordinate system is %(srs)s (metres). Give --srid 4326 if they are degrees."
                )
                % {"feature": label, "srs": srs_label}
            )
    else:
        _check_degrees(geometry=geometry, label=label, srs_label=srs_label, what=_("in the file"))
    geometry.srs = source_srs
    try:
        geometry.transform(transform)
    except GDALException as exc:
        raise BoundaryImportError(
            _("%(feature)s cannot be reprojected from %(srs)s: %(error)s")
            % {"feature": label, "srs": srs_label, "error": exc}
        ) from None
    _check_degrees(geometry=geometry, label=label, srs_label=srs_label, what=_("after reprojection"))


def _read_features(
    *,
    layer: Layer,
    source_srs: SpatialReference,
    code_path: _FieldPath,
    name_path: _FieldPath,
    name_en_path: _FieldPath | None,
    parent_path: _FieldPath | None,
    population_path: _FieldPath | None,
    fix_invalid: bool,
    summary: ImportSummary,
) -> list[_Feature]:
    layer_type = _layer_geometry_type(layer)
    if layer_type not in _POLYGONAL and layer_type not in (_UNKNOWN, _COLLECTION):
        raise BoundaryImportError(
            _(
                "The layer “%(layer)s” holds %(type)s geometries: district boundaries must be polygons. "
                "Export the districts as polygons (not their outlines or centre points)."
            )
            % {"layer": layer.name, "type": _type_name(layer_type)}
        )
    target = SpatialReference(GEO_SRID)
    transform = CoordTransform(source_srs, target)
    srs_label = _srs_label(source_srs)
    skipped: Counter[str] = Counter()
    features: list[_Feature] = []

    for index, feature in enumerate(layer, start=1):
        code = _as_text(_read_value(feature, code_path))
        label = _("feature %(n)s (code “%(code)s”)") % {"n": index, "code": code}
        geometry_ref = ds_api.get_feat_geom_ref(feature.ptr)
        if not geometry_ref:
            skipped[_("no geometry")] += 1
            continue
        try:
            geometry = feature.geom
        except (GDALException, TypeError):
            # A type Django cannot wrap (TIN, PolyhedralSurface): certainly not a district.
            skipped[_type_name(_flat_type(int(geom_api.get_geom_type(geometry_ref))))] += 1
            continue
        kind = _geometry_kind(geometry)
        if kind == _COLLECTION:
            # KML's MultiGeometry: keep the polygons, ignore the placemark points and lines in it.
            members = [p for member in _members(geometry) for p in _ogr_polygons(member)]
            if not members:
                skipped[_type_name(kind)] += 1
                continue
            collected: Any = OGRGeometry("MULTIPOLYGON EMPTY")
            for member in members:
                collected.add(member)
            geometry = collected
            kind = 6
        if kind not in _POLYGONAL:
            skipped[_type_name(kind)] += 1
            continue
        if geometry.has_curve:
            # Arcs (CurvePolygon, MultiSurface in a GeoPackage) become segments: PostGIS routing
            # and GeoJSON both want straight edges.
            geometry = geometry.get_linear_geometry()
        # Boundaries are flat: survey heights or measures would only slow every lookup.
        geometry.set_3d(False)
        geometry.set_measured(False)
        if geometry.empty:
            raise BoundaryImportError(_("%(feature)s has an empty geometry.") % {"feature": label})

        if not code:
            raise BoundaryImportError(
                _("Feature %(n)s has an empty code (field “%(field)s”): every district needs a code.")
                % {"n": index, "field": code_path.option}
            )
        if len(code) > 50:
            raise BoundaryImportError(
                _("%(feature)s: the code is longer than 50 characters.") % {"feature": label}
            )
        name_fa = _as_text(_read_value(feature, name_path))
        if not name_fa:
            raise BoundaryImportError(
                _("%(feature)s has an empty name (field “%(field)s”).")
                % {"feature": label, "field": name_path.option}
            )
        name_en = _as_text(_read_value(feature, name_en_path)) if name_en_path else ""
        parent_code = _as_text(_read_value(feature, parent_path)) if parent_path else ""
        population = (
            _population(_read_value(feature, population_path), label=label) if population_path else None
        )

        reproject(
            geometry=geometry, source_srs=source_srs, srs_label=srs_label, transform=transform, label=label
        )

        polygons, dropped = _clean_rings(_polygon_rings(geometry))
        if dropped:
            summary.dropped_rings[code] = summary.dropped_rings.get(code, 0) + dropped
        if not polygons:
            raise BoundaryImportError(
                _("%(feature)s has no ring that encloses an area (all its rings are degenerate).")
                % {"feature": label}
            )
        boundary = MultiPolygon(*polygons, srid=GEO_SRID)
        if not boundary.valid:
            reason = boundary.valid_reason
            if not fix_invalid:
                raise BoundaryImportError(
                    _(
                        "%(feature)s has an invalid geometry: %(reason)s. Fix it in the source, or run "
                        "again with --fix-invalid to repair it (make_valid, keeping the polygonal parts)."
                    )
                    % {"feature": label, "reason": reason}
                )
            parts = _polygonal_parts(boundary.make_valid())
            repaired = MultiPolygon(*parts, srid=GEO_SRID) if parts else None
            if repaired is not None and not repaired.valid:
                # Polygonal parts pulled out of a collection may touch along an edge: merge them.
                repaired = _as_multi(repaired.unary_union)
            if repaired is None or repaired.empty or not repaired.valid:
                raise BoundaryImportError(
                    _("%(feature)s is invalid (%(reason)s) and repairing it leaves no valid area.")
                    % {"feature": label, "reason": reason}
                )
            summary.repairs.append(
                FeatureRepair(
                    code=code,
                    reason=reason,
                    result=_("%(n)s polygon(s)") % {"n": len(repaired)},
                )
            )
            boundary = repaired
        features.append(
            _Feature(
                index=index,
                code=code,
                name_fa=name_fa[:200],
                name_en=name_en[:200],
                parent_code=parent_code,
                population=population,
                boundary=boundary,
            )
        )

    summary.skipped = dict(skipped)
    if not features:
        found = ", ".join(f"{n} {t}" for t, n in skipped.items()) or _("no features")
        raise BoundaryImportError(
            _("The layer “%(layer)s” has no polygon to import (found: %(found)s).")
            % {"layer": layer.name, "found": found}
        )
    return features


def _as_multi(geometry: GEOSGeometry) -> MultiPolygon | None:
    parts = _polygonal_parts(geometry)
    return MultiPolygon(*parts, srid=GEO_SRID) if parts else None


def _population(value: object, *, label: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = float(str(value).replace(",", ""))
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise BoundaryImportError(
            _("%(feature)s: the population “%(value)s” is not a whole number of people.")
            % {"feature": label, "value": value}
        )
    return round(number)


def _check_codes(features: list[_Feature]) -> None:
    counts = Counter(f.code for f in features)
    duplicates = sorted(code for code, n in counts.items() if n > 1)
    if duplicates:
        raise BoundaryImportError(
            _("Codes must be unique within the file; these appear more than once: %(codes)s.")
            % {"codes": ", ".join(duplicates[:_MAX_LISTED])}
        )


# --- summary figures (PostGIS) ---------------------------------------------------------------------


def _overlaps(district_ids: list[int]) -> tuple[list[Overlap], int]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH pairs AS (
              SELECT a.code AS code_a, b.code AS code_b,
                     ST_CollectionExtract(ST_Intersection(a.boundary, b.boundary), 3)::geography AS g
                FROM districts_district a
                JOIN districts_district b ON b.id = ANY(%s) AND a.code < b.code
                                         AND ST_Intersects(a.boundary, b.boundary)
               WHERE a.id = ANY(%s))
            SELECT code_a, code_b, ST_Area(g), ST_Perimeter(g) FROM pairs ORDER BY 3 DESC, 1, 2""",
            [district_ids, district_ids],
        )
        rows = cursor.fetchall()
    overlaps = [Overlap(a, b, float(area)) for a, b, area, perimeter in rows if _reported(area, perimeter)]
    slivers = sum(1 for *_codes, area, perimeter in rows if area and not _reported(area, perimeter))
    return overlaps, slivers


def _reported(area: float | None, perimeter: float | None) -> bool:
    # Twice the area over the perimeter is the mean width of a long thin shape.
    if not area or not perimeter or area < MIN_REPORTED_AREA_M2:
        return False
    return 2.0 * area / perimeter >= MIN_REPORTED_WIDTH_M


def _gaps(district_ids: list[int]) -> tuple[list[Gap], int]:
    # A gap is a hole in the union of the districts: a place inside the city that no district
    # covers, so its reports would fall to the nearest-district rule or to triage.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH u AS (SELECT ST_Union(boundary) AS g FROM districts_district WHERE id = ANY(%s)),
                 filled AS (SELECT ST_Union(ST_MakePolygon(ST_ExteriorRing(d.geom))) AS g
                              FROM u, ST_Dump(u.g) d),
                 gaps AS (SELECT (ST_Dump(ST_CollectionExtract(ST_Difference(filled.g, u.g), 3))).geom AS g
                            FROM filled, u)
            SELECT ST_Area(g::geography), ST_Perimeter(g::geography),
                   ST_Y(ST_PointOnSurface(g)), ST_X(ST_PointOnSurface(g))
              FROM gaps ORDER BY 1 DESC""",
            [district_ids],
        )
        rows = cursor.fetchall()
    gaps = [Gap(float(a), float(lat), float(lon)) for a, p, lat, lon in rows if _reported(a, p)]
    return gaps, sum(1 for a, p, _lat, _lon in rows if a and not _reported(a, p))


# --- the service -----------------------------------------------------------------------------------


def _create(
    *, boundary_set: BoundarySet, label: str, **fields: object
) -> District:  # a ValidationError from the service is the user's data problem, not a crash
    try:
        return district_create(boundary_set=boundary_set, **fields)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise BoundaryImportError(
            _("%(feature)s: %(error)s") % {"feature": label, "error": " ".join(exc.messages)}
        ) from None


def _default_set_name(path: str) -> str:
    stem = Path(path.rstrip("/")).stem or "import"
    return f"{stem} {timezone.localtime():%Y-%m-%d %H:%M:%S}"


def boundary_import(
    *,
    path: str | Path,
    code_field: str,
    name_field: str,
    name_en_field: str | None = None,
    layer: str | None = None,
    level: int = DistrictLevel.REGION,
    parent_field: str | None = None,
    population_field: str | None = None,
    srid: int | None = None,
    fix_invalid: bool = False,
    commit: bool = False,
    set_name: str | None = None,
) -> ImportSummary:
    """Import one level of districts from a GIS file into a new boundary set.

    Without `commit` nothing is written (the work is done and measured in a transaction that is
    rolled back); with it, the new set is written and activated, all or nothing.
    Raises BoundaryImportError with a message meant for the person running the import.
    """
    path = str(path)
    try:
        level = DistrictLevel(level)
    except ValueError:
        raise BoundaryImportError(
            _("Unknown level %(level)s: 0 (jurisdiction), 1 (region) or 2 (sub-district).") % {"level": level}
        ) from None
    source, gdal_layer = _open_layer(path=path, layer=layer)

    def resolve(option: str | None) -> _FieldPath | None:
        return _resolve_field(option=option, layer=gdal_layer) if option else None

    code_path = _resolve_field(option=code_field, layer=gdal_layer)
    name_path = _resolve_field(option=name_field, layer=gdal_layer)
    name_en_path = resolve(name_en_field)
    parent_path = resolve(parent_field)
    population_path = resolve(population_field)
    if parent_path is not None and level == DistrictLevel.JURISDICTION:
        raise BoundaryImportError(_("The jurisdiction is the top level: it cannot have a parent."))
    source_srs = _source_srs(layer=gdal_layer, srid=srid)
    name = (set_name or "").strip() or _default_set_name(path)
    summary = ImportSummary(
        path=path,
        layer=gdal_layer.name,
        driver=str(source.driver),
        source_srs=_srs_label(source_srs),
        level=int(level),
        boundary_set_name=name,
        boundary_set_id=None,
        committed=False,
    )
    features = _read_features(
        layer=gdal_layer,
        source_srs=source_srs,
        code_path=code_path,
        name_path=name_path,
        name_en_path=name_en_path,
        parent_path=parent_path,
        population_path=population_path,
        fix_invalid=fix_invalid,
        summary=summary,
    )
    _check_codes(features)
    summary.features = len(features)
    summary.codes = [f.code for f in features]
    summary.vertices = sum(f.boundary.num_coords for f in features)
    if level == DistrictLevel.JURISDICTION and len(features) > 1:
        summary.warnings.append(
            _("%(n)s jurisdiction features: the city's outer limit is normally one (multi)polygon.")
            % {"n": len(features)}
        )

    with transaction.atomic():
        boundaries_lock()  # before the active set is read: see the module's docstring
        boundary_set = _write(features=features, level=level, path=path, summary=summary)
        if commit:
            boundary_set_activate(boundary_set=boundary_set)
            summary.committed = True
        else:
            # The dry run did all the work so the figures are real; now it leaves no trace.
            transaction.set_rollback(True)
            summary.boundary_set_id = None
    return summary


def _json_fields(layer: Layer, fields: list[str]) -> list[str]:
    # Fields whose text is a JSON object (GDAL's reading of a nested GeoJSON property), judged on
    # the first feature that has one: only used to hint at dotted paths in an error message.
    found: list[str] = []
    for index, feature in enumerate(layer):
        if index >= 20:
            break
        for name in fields:
            try:
                value = feature[name].value
            except GDALException:
                continue
            if isinstance(value, str) and value.lstrip().startswith("{") and name not in found:
                found.append(name)
        if found:
            break
    return found


def _write(
    *, features: list[_Feature], level: DistrictLevel, path: str, summary: ImportSummary
) -> BoundarySet:
    previous = BoundarySet.objects.filter(active=True).first()
    old = list(previous.districts.select_related("parent").order_by("level", "code")) if previous else []
    kept = [d for d in old if d.level != level]
    kept_levels = {d.code: d.level for d in kept}
    clashes = sorted(f.code for f in features if f.code in kept_levels)
    if clashes:
        raise BoundaryImportError(
            _(
                "These codes are already used by districts of another level that the new set keeps: "
                "%(codes)s. Codes must be unique within a boundary set."
            )
            % {
                "codes": ", ".join(
                    f"{c} ({DistrictLevel(kept_levels[c]).label})" for c in clashes[:_MAX_LISTED]
                )
            }
        )
    summary.previous_set = previous.name if previous else None
    summary.replaced = sum(1 for d in old if d.level == level)

    boundary_set = boundary_set_create(
        name=summary.boundary_set_name,
        source=path[:500],
        notes=_("Level %(level)s imported from %(path)s; other levels copied from “%(previous)s”.")
        % {"level": level.label, "path": path, "previous": summary.previous_set or "-"},
    )
    summary.boundary_set_id = boundary_set.pk
    copies: dict[int, District] = {}  # old district id -> its copy in the new set
    copied: Counter[int] = Counter()

    def copy(district: District, parent: District | None) -> None:
        copies[district.pk] = _create(
            boundary_set=boundary_set,
            label=district.code,
            code=district.code,
            name_fa=district.name_fa,
            name_en=district.name_en,
            level=district.level,
            parent=parent,
            population=district.population,
            boundary=district.boundary,
            previous=district,  # the same boundary: it keeps its boundary_updated_at
        )
        copied[district.level] += 1

    # Upper levels first, so the imported districts can name their parents among them.
    for district in kept:
        if district.level < level:
            copy(district, copies.get(district.parent_id) if district.parent_id else None)

    upper = {d.code: d for d in copies.values()}
    missing = sorted({f.parent_code for f in features if f.parent_code and f.parent_code not in upper})
    if missing:
        raise BoundaryImportError(
            _(
                "Parent codes not found among the districts above this level: %(missing)s. Known codes: %(known)s."
            )
            % {
                "missing": ", ".join(missing[:_MAX_LISTED]),
                "known": ", ".join(sorted(upper)[: _MAX_LISTED * 3])
                or _("(none: import the upper level first)"),
            }
        )
    # A re-imported district drawn exactly as before keeps its boundary_updated_at too (`reroute`).
    replaced = {d.code: d for d in old if d.level == level}
    imported: dict[str, District] = {}
    for feature in features:
        imported[feature.code] = _create(
            boundary_set=boundary_set,
            label=_("feature %(n)s (code “%(code)s”)") % {"n": feature.index, "code": feature.code},
            code=feature.code,
            name_fa=feature.name_fa,
            name_en=feature.name_en,
            level=level,
            parent=upper[feature.parent_code] if feature.parent_code else None,
            population=feature.population,
            boundary=feature.boundary,
            previous=replaced.get(feature.code),
        )

    # Deeper levels: their parent may be one of the districts just replaced.
    for district in kept:
        if district.level <= level:
            continue
        parent: District | None = None
        if district.parent is not None and district.parent.level == level:
            parent = _relink(district=district, imported=imported, level=level, summary=summary)
        elif district.parent_id:
            parent = copies.get(district.parent_id)
        copy(district, parent)
    summary.copied = dict(sorted(copied.items()))

    new_ids = [d.pk for d in imported.values()]
    summary.overlaps, overlap_slivers = _overlaps(new_ids)
    summary.gaps, gap_slivers = _gaps(new_ids)
    summary.slivers = overlap_slivers + gap_slivers
    if previous is not None:
        summary.area_changes = changed_area_build(new_set_id=boundary_set.pk, old_sets={previous.pk: None})
        summary.moves = changed_area_moves(old_set_id=previous.pk, new_set_id=boundary_set.pk)
    if summary.skipped_features:
        summary.warnings.append(
            _("%(n)s feature(s) without a polygon were skipped.") % {"n": summary.skipped_features}
        )
    orphans = [r for r in summary.relinked if r.how == "none"]
    if orphans:
        summary.warnings.append(
            _(
                "%(n)s district(s) lost their parent: its code is gone from the file and no imported "
                "district covers them. They are kept without a parent: %(codes)s."
            )
            % {
                "n": len(orphans),
                "codes": ", ".join(f"{r.code} (was in {r.old_parent})" for r in orphans[:_MAX_LISTED])
                + (", ..." if len(orphans) > _MAX_LISTED else ""),
            }
        )
    return boundary_set


def _relink(
    *, district: District, imported: dict[str, District], level: DistrictLevel, summary: ImportSummary
) -> District | None:
    assert district.parent is not None
    old_parent = district.parent.code
    if old_parent in imported:
        return imported[old_parent]
    # The parent's code is gone (regions renumbered or merged): the new parent is the imported
    # district that holds the child's interior point, as routing would decide for a report there.
    candidates = [d for d in imported.values() if d.boundary.covers(district.boundary.point_on_surface)]
    candidates.sort(key=lambda d: (d.area_m2, d.code))
    new_parent = candidates[0] if candidates else None
    summary.relinked.append(
        Relink(
            code=district.code,
            old_parent=old_parent,
            new_parent=new_parent.code if new_parent else None,
            how="location" if new_parent else "none",
        )
    )
    return new_parent
