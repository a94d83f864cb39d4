"""The boundary import (`districts.importing.boundary_import`, `manage.py import_districts`).

Every input is written by the test itself (GeoJSON directly; Shapefile and GeoPackage with Debian's
ogr2ogr), except the real OpenStreetMap export of Qazvin province's counties. Shapes are squares near
Qazvin, drawn in UTM zone 39N (EPSG:32639) metres where the test needs known areas.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from districts.importing import BoundaryImportError, ImportSummary, boundary_import
from districts.models import BoundarySet, District, DistrictLevel, DistrictPiece
from districts.selectors import district_for_point

# These tests match the English wording of the messages.
pytestmark = pytest.mark.usefixtures("english")

OGR2OGR = shutil.which("ogr2ogr") or "/usr/bin/ogr2ogr"
QAZVIN_COUNTIES = Path(__file__).resolve().parent / "data" / "osm" / "qazvin_province_counties.geojson"
# Qazvin city centre, and the same point in UTM zone 39N metres.
QAZVIN_LON, QAZVIN_LAT = 50.0, 36.27
_UTM = Point(QAZVIN_LON, QAZVIN_LAT, srid=4326).transform(32639, clone=True)
assert isinstance(_UTM, Point)
UTM_X, UTM_Y = round(_UTM.x), round(_UTM.y)

Ring = list[list[float]]


def square(x: float, y: float, size: float) -> Ring:
    return [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]


def deg_square(dx: float, dy: float, size: float = 0.01) -> Ring:
    """A square `size` degrees wide, offset (dx, dy) degrees from Qazvin's centre."""
    return square(QAZVIN_LON + dx, QAZVIN_LAT + dy, size)


def utm_square(dx: float, dy: float, size: float) -> Ring:
    """A square `size` metres wide, offset (dx, dy) metres from Qazvin's centre, in UTM 39N."""
    return square(UTM_X + dx, UTM_Y + dy, size)


def utm_area(ring: Ring) -> float:
    """The area in m² (UTM 39N) of a ring drawn in degrees."""
    return float(Polygon(ring, srid=4326).transform(32639, clone=True).area)


def feature(code: object, name: str, rings: Sequence[Ring] | None = None, **props: Any) -> dict[str, Any]:
    geometry = props.pop("geometry", None) or {"type": "Polygon", "coordinates": list(rings or [])}
    return {"type": "Feature", "properties": {"code": code, "name": name, **props}, "geometry": geometry}


def write_geojson(path: Path, features: list[dict[str, Any]], srid: int | None = None) -> Path:
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if srid is not None:
        collection["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{srid}"}}
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return path


def ogr2ogr(*args: str) -> None:
    subprocess.run([OGR2OGR, *args], check=True, capture_output=True)


def regions(tmp_path: Path, name: str = "regions.geojson") -> Path:
    """Two regions side by side: R1 west of Qazvin's centre, R2 east of it."""
    return write_geojson(
        tmp_path / name,
        [
            feature("R1", "منطقه یک", [deg_square(-0.02, -0.01, 0.02)], name_en="Region 1", pop=120000),
            feature("R2", "منطقه دو", [deg_square(0.0, -0.01, 0.02)], name_en="Region 2", pop=95000),
        ],
    )


def run(path: Path, **options: Any) -> ImportSummary:
    options.setdefault("code_field", "code")
    options.setdefault("name_field", "name")
    return boundary_import(path=path, **options)


def active_codes(level: int | None = None) -> list[str]:
    qs = District.objects.filter(boundary_set__active=True)
    if level is not None:
        qs = qs.filter(level=level)
    return sorted(qs.values_list("code", flat=True))


def routed_code(lon: float, lat: float) -> str | None:
    match = district_for_point(point=Point(lon, lat, srid=4326))
    return match.code if match else None


# --- formats --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_geojson_commit_activates_the_set_and_routing_finds_the_districts(tmp_path: Path) -> None:
    summary = run(
        regions(tmp_path), name_en_field="name_en", population_field="pop", commit=True, set_name="v1"
    )

    assert summary.committed and summary.features == 2 and summary.codes == ["R1", "R2"]
    active = BoundarySet.objects.get(active=True)
    assert active.pk == summary.boundary_set_id and active.name == "v1"
    r1 = District.objects.get(boundary_set=active, code="R1")
    assert (r1.name_fa, r1.name_en, r1.population, r1.level) == ("منطقه یک", "Region 1", 120000, 1)
    assert r1.pieces.exists()
    assert routed_code(QAZVIN_LON - 0.01, QAZVIN_LAT) == "R1"
    assert routed_code(QAZVIN_LON + 0.01, QAZVIN_LAT) == "R2"
    assert routed_code(QAZVIN_LON + 0.5, QAZVIN_LAT) is None


@pytest.mark.django_db
def test_shapefile_import_keeps_persian_names_and_needs_an_srid_without_prj(tmp_path: Path) -> None:
    shp = tmp_path / "regions.shp"
    ogr2ogr("-f", "ESRI Shapefile", "-lco", "ENCODING=UTF-8", str(shp), str(regions(tmp_path)))

    summary = run(shp, commit=True)
    assert summary.driver == "ESRI Shapefile" and summary.codes == ["R1", "R2"]
    assert District.objects.get(boundary_set__active=True, code="R2").name_fa == "منطقه دو"
    assert routed_code(QAZVIN_LON + 0.01, QAZVIN_LAT) == "R2"

    shp.with_suffix(".prj").unlink()
    with pytest.raises(BoundaryImportError, match="no coordinate reference system.*--srid"):
        run(shp)
    # With --srid the same districts land in the same places (a new set, routing them as before).
    summary = run(shp, srid=4326, commit=True, set_name="from --srid")
    assert summary.source_srs == "EPSG:4326" and summary.codes == ["R1", "R2"]
    r2 = District.objects.get(boundary_set__active=True, code="R2")
    assert r2.boundary_set.name == "from --srid"
    assert r2.area_m2 == pytest.approx(utm_area(deg_square(0.0, -0.01, 0.02)), rel=0.005)
    assert routed_code(QAZVIN_LON - 0.01, QAZVIN_LAT) == "R1"
    assert routed_code(QAZVIN_LON + 0.01, QAZVIN_LAT) == "R2"


@pytest.mark.django_db
def test_geopackage_import_and_layer_choice(tmp_path: Path) -> None:
    gpkg = tmp_path / "city.gpkg"
    ogr2ogr("-f", "GPKG", "-nln", "regions", str(gpkg), str(regions(tmp_path)))
    points = write_geojson(
        tmp_path / "poi.geojson",
        [feature("P1", "x", geometry={"type": "Point", "coordinates": [QAZVIN_LON, QAZVIN_LAT]})],
    )
    ogr2ogr("-f", "GPKG", "-update", "-nln", "centres", str(gpkg), str(points))

    with pytest.raises(BoundaryImportError, match="several layers.*regions.*centres.*--layer"):
        run(gpkg)
    with pytest.raises(BoundaryImportError, match="Layer “zones” not found.*regions, centres"):
        run(gpkg, layer="zones")

    summary = run(gpkg, layer="regions", commit=True)
    assert summary.driver == "GPKG" and summary.layer == "regions"
    assert active_codes() == ["R1", "R2"]
    assert routed_code(QAZVIN_LON - 0.01, QAZVIN_LAT) == "R1"


# --- coordinate systems ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_utm_input_is_reprojected_to_lon_lat(tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "utm.geojson", [feature("U1", "مرکز", [utm_square(-1000, -1000, 2000)])], srid=32639
    )

    summary = run(path, commit=True)

    assert summary.source_srs == "EPSG:32639"
    district = District.objects.get(boundary_set__active=True, code="U1")
    centre = district.boundary.centroid
    assert centre.x == pytest.approx(QAZVIN_LON, abs=0.001)
    assert centre.y == pytest.approx(QAZVIN_LAT, abs=0.001)
    assert district.area_m2 == pytest.approx(4_000_000, rel=0.01)
    assert routed_code(QAZVIN_LON, QAZVIN_LAT) == "U1"


@pytest.mark.django_db
def test_coordinates_that_do_not_fit_the_srid_are_refused(tmp_path: Path) -> None:
    # UTM metres in a GeoJSON that declares no CRS: GDAL takes them for degrees.
    path = write_geojson(tmp_path / "no_crs.geojson", [feature("U1", "x", [utm_square(0, 0, 1000)])])
    with pytest.raises(BoundaryImportError, match="not longitude/latitude.*--srid"):
        run(path)
    # With --srid 32639 the metres are read as metres: a 1 km square north-east of the centre.
    summary = run(path, srid=32639, commit=True)
    assert summary.source_srs == "EPSG:32639"
    district = District.objects.get(boundary_set__active=True, code="U1")
    expected_centre = Point(UTM_X + 500, UTM_Y + 500, srid=32639).transform(4326, clone=True)
    assert isinstance(expected_centre, Point)
    assert district.boundary.centroid.x == pytest.approx(expected_centre.x, abs=1e-5)
    assert district.boundary.centroid.y == pytest.approx(expected_centre.y, abs=1e-5)
    assert district.area_m2 == pytest.approx(1_000_000, rel=0.01)
    assert routed_code(expected_centre.x, expected_centre.y) == "U1"
    assert routed_code(QAZVIN_LON - 0.001, QAZVIN_LAT - 0.001) is None  # south-west of the square

    # Degrees declared as UTM: they cannot be metres of a district.
    degrees = write_geojson(tmp_path / "deg.geojson", [feature("D1", "x", [deg_square(0, 0)])], srid=32639)
    with pytest.raises(BoundaryImportError, match="look like longitude/latitude.*--srid 4326"):
        run(degrees)
    with pytest.raises(BoundaryImportError, match="Unknown SRID 999999"):
        run(degrees, srid=999999)


@pytest.mark.django_db
def test_3d_input_is_stored_flat(tmp_path: Path) -> None:
    ring = [[x, y, 1290.5] for x, y in deg_square(0, 0)]
    path = write_geojson(tmp_path / "survey.geojson", [feature("Z1", "ارتفاع", [ring])])

    run(path, commit=True)

    boundary = District.objects.get(boundary_set__active=True, code="Z1").boundary
    assert not boundary.hasz
    assert len(boundary.coords[0][0][0]) == 2


# --- repairs and refusals ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_bow_tie_is_refused_without_fix_invalid_and_repaired_with_it(tmp_path: Path) -> None:
    x, y = QAZVIN_LON, QAZVIN_LAT
    bow_tie = [[x, y], [x + 0.02, y + 0.02], [x + 0.02, y], [x, y + 0.02], [x, y]]
    path = write_geojson(tmp_path / "bowtie.geojson", [feature("B1", "پاپیون", [bow_tie])])

    with pytest.raises(BoundaryImportError) as refused:
        run(path, commit=True)
    message = str(refused.value)
    assert "B1" in message and "Self-intersection" in message and "--fix-invalid" in message
    assert not BoundarySet.objects.exists()

    summary = run(path, fix_invalid=True, commit=True)

    assert [r.code for r in summary.repairs] == ["B1"]
    assert "Self-intersection" in summary.repairs[0].reason
    boundary = District.objects.get(boundary_set__active=True, code="B1").boundary
    assert boundary.valid and len(boundary) == 2  # the two triangles of the bow tie
    assert routed_code(x + 0.005, y + 0.01) == "B1"  # inside the western triangle
    assert routed_code(x + 0.01, y + 0.003) is None  # between the two triangles


@pytest.mark.django_db
def test_degenerate_rings_are_dropped_and_counted(tmp_path: Path) -> None:
    outer = deg_square(0, 0, 0.02)
    flat_hole = [[QAZVIN_LON + 0.005, QAZVIN_LAT + 0.005]] * 2 + [[QAZVIN_LON + 0.01, QAZVIN_LAT + 0.005]] * 2
    sliver = {"type": "MultiPolygon", "coordinates": [[outer, flat_hole], [deg_square(0.05, 0, 0.0)]]}
    path = write_geojson(tmp_path / "rings.geojson", [feature("G1", "x", geometry=sliver)])

    summary = run(path, commit=True)

    assert summary.dropped_rings == {"G1": 2}
    boundary = District.objects.get(boundary_set__active=True, code="G1").boundary
    assert len(boundary) == 1 and len(boundary[0]) == 1  # one polygon, no hole


@pytest.mark.django_db
def test_missing_field_error_names_the_fields_that_exist(tmp_path: Path) -> None:
    with pytest.raises(BoundaryImportError) as error:
        run(regions(tmp_path), code_field="CODE")
    message = str(error.value)
    assert "“CODE”" in message
    for existing in ("code", "name", "name_en", "pop"):
        assert existing in message


@pytest.mark.django_db
def test_layers_without_polygons_are_refused(tmp_path: Path) -> None:
    point = {"type": "Point", "coordinates": [QAZVIN_LON, QAZVIN_LAT]}
    points = write_geojson(tmp_path / "points.geojson", [feature("P1", "x", geometry=point)])
    with pytest.raises(BoundaryImportError, match="holds Point geometries.*must be polygons"):
        run(points)

    line = {"type": "LineString", "coordinates": deg_square(0, 0)}
    mixed = write_geojson(
        tmp_path / "mixed.geojson",
        [feature("P1", "x", geometry=point), feature("L1", "y", geometry=line)],
    )
    with pytest.raises(BoundaryImportError, match="no polygon to import.*1 Point.*1 LineString"):
        run(mixed)


@pytest.mark.django_db
def test_missing_and_unreadable_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(BoundaryImportError, match="File not found: .*nowhere.geojson"):
        run(tmp_path / "nowhere.geojson")
    garbage = tmp_path / "notes.geojson"
    garbage.write_text("this is not a map", encoding="utf-8")
    with pytest.raises(BoundaryImportError, match="Cannot read .*notes.geojson as a GIS file"):
        run(garbage)


@pytest.mark.django_db
def test_duplicate_and_empty_codes_are_refused(tmp_path: Path) -> None:
    twice = write_geojson(
        tmp_path / "twice.geojson",
        [feature("R1", "a", [deg_square(0, 0)]), feature("R1", "b", [deg_square(0.02, 0)])],
    )
    with pytest.raises(BoundaryImportError, match="more than once: R1"):
        run(twice)
    empty = write_geojson(
        tmp_path / "empty.geojson",
        [feature("R1", "a", [deg_square(0, 0)]), feature(" ", "b", [deg_square(0.02, 0)])],
    )
    with pytest.raises(BoundaryImportError, match="Feature 2 has an empty code"):
        run(empty)


# --- transactions and versions ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_dry_run_measures_everything_and_writes_nothing(tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "overlap.geojson",
        [feature("A", "a", [utm_square(0, 0, 1000)]), feature("B", "b", [utm_square(500, 0, 1000)])],
        srid=32639,
    )

    summary = run(path)

    assert not summary.committed and summary.boundary_set_id is None
    assert summary.features == 2 and len(summary.overlaps) == 1  # measured inside the rolled-back work
    assert BoundarySet.objects.count() == 0
    assert District.objects.count() == 0
    assert DistrictPiece.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_dry_run_over_an_active_set_leaves_it_untouched(tmp_path: Path) -> None:
    first = run(regions(tmp_path), commit=True)
    before = (BoundarySet.objects.count(), District.objects.count(), DistrictPiece.objects.count())
    moved = write_geojson(
        tmp_path / "moved.geojson",
        [
            feature("R1", "a", [deg_square(-0.02, -0.01, 0.03)]),
            feature("R2", "b", [deg_square(0.01, -0.01, 0.01)]),
        ],
    )

    summary = run(moved)

    # R1 grew east and north over most of R2: what changes hands is measured, nothing written.
    areas = {(c.code, c.kind): c.area_m2 for c in summary.area_changes}
    assert areas == {
        ("R1", "moved"): pytest.approx(
            utm_area(deg_square(-0.02, -0.01, 0.03)) - utm_area(deg_square(-0.02, -0.01, 0.02)), rel=0.01
        ),
        ("R2", "moved"): pytest.approx(
            utm_area(deg_square(0.0, -0.01, 0.02)) - utm_area(deg_square(0.01, -0.01, 0.01)), rel=0.01
        ),
    }
    assert summary.moving() == 0  # no reports yet
    assert (BoundarySet.objects.count(), District.objects.count(), DistrictPiece.objects.count()) == before
    assert BoundarySet.objects.get(active=True).pk == first.boundary_set_id


@pytest.mark.django_db(transaction=True)
def test_commit_is_all_or_nothing(tmp_path: Path) -> None:
    run(regions(tmp_path), commit=True)
    subs = write_geojson(
        tmp_path / "subs.geojson",
        [
            feature("S1", "a", [deg_square(-0.02, -0.01)], region="R1"),
            feature("S2", "b", [deg_square(0.0, -0.01)], region="R9"),
        ],
    )
    with pytest.raises(BoundaryImportError, match="Parent codes not found.*R9.*Known codes: R1, R2"):
        run(subs, level=DistrictLevel.SUB_DISTRICT, parent_field="region", commit=True)
    assert BoundarySet.objects.count() == 1
    assert active_codes() == ["R1", "R2"]


@pytest.mark.django_db
def test_parent_field_links_sub_districts_to_regions(tmp_path: Path) -> None:
    run(regions(tmp_path), commit=True)
    subs = write_geojson(
        tmp_path / "subs.geojson",
        [
            feature("S1", "ناحیه ۱", [deg_square(-0.02, -0.01)], region="R1"),
            feature("S2", "ناحیه ۲", [deg_square(0.0, -0.01)], region="R2"),
        ],
    )

    summary = run(subs, level=DistrictLevel.SUB_DISTRICT, parent_field="region", commit=True)

    assert summary.copied == {DistrictLevel.REGION: 2}
    s2 = District.objects.get(boundary_set__active=True, code="S2")
    assert s2.level == DistrictLevel.SUB_DISTRICT and s2.parent is not None and s2.parent.code == "R2"
    assert s2.parent.boundary_set_id == s2.boundary_set_id  # the copy in the new set, not the old row
    assert routed_code(QAZVIN_LON + 0.005, QAZVIN_LAT - 0.005) == "S2"  # the deeper level wins


@pytest.mark.django_db
def test_reimport_replaces_one_level_and_keeps_the_others(tmp_path: Path) -> None:
    jurisdiction = write_geojson(
        tmp_path / "city.geojson", [feature("QZ", "قزوین", [deg_square(-0.1, -0.1, 0.2)])]
    )
    run(jurisdiction, level=DistrictLevel.JURISDICTION, commit=True)
    run(regions(tmp_path), commit=True)
    subs = write_geojson(
        tmp_path / "subs.geojson",
        [
            feature("S1", "a", [deg_square(-0.02, -0.01)], region="R1"),
            feature("S2", "b", [deg_square(0.005, -0.005, 0.005)], region="R2"),
            feature("S3", "c", [deg_square(0.016, 0.0, 0.003)], region="R2"),
        ],
    )
    run(subs, level=DistrictLevel.SUB_DISTRICT, parent_field="region", commit=True)
    old_set = BoundarySet.objects.get(active=True)

    # New regions: R1 grows east over most of the old R2, R2 is replaced by a small R3, and S3's
    # corner of the old R2 is left outside every region.
    new_regions = write_geojson(
        tmp_path / "regions_2.geojson",
        [
            feature("R1", "a", [deg_square(-0.02, -0.01, 0.035)]),
            feature("R3", "c", [deg_square(0.015, -0.01, 0.005)]),
        ],
    )
    summary = run(new_regions, commit=True, set_name="regions 2")

    assert summary.replaced == 2 and summary.copied == {0: 1, 2: 3}
    assert active_codes(DistrictLevel.JURISDICTION) == ["QZ"]
    assert active_codes(DistrictLevel.REGION) == ["R1", "R3"]
    assert active_codes(DistrictLevel.SUB_DISTRICT) == ["S1", "S2", "S3"]
    parents = dict(
        District.objects.filter(boundary_set__active=True, level=2).values_list("code", "parent__code")
    )
    # S1 keeps R1 by code; S2's region R2 is gone and the new R1 covers it; nothing covers S3.
    assert parents == {"S1": "R1", "S2": "R1", "S3": None}
    assert [(r.code, r.old_parent, r.new_parent, r.how) for r in summary.relinked] == [
        ("S2", "R2", "R1", "location"),
        ("S3", "R2", None, "none"),
    ]
    assert any("S3 (was in R2)" in w and "without a parent" in w for w in summary.warnings)
    # The old version stays as it was, for the reports routed with it.
    assert sorted(old_set.districts.filter(level=1).values_list("code", flat=True)) == ["R1", "R2"]
    # Against the old regions: R1 grew, R2 is gone, R3 is new (the copied levels are unchanged).
    assert sorted((c.code, c.kind) for c in summary.area_changes) == [
        ("R1", "moved"),
        ("R2", "gone"),
        ("R3", "new"),
    ]
    areas = {c.code: c.area_m2 for c in summary.area_changes}
    assert areas["R2"] == pytest.approx(utm_area(deg_square(0.0, -0.01, 0.02)), rel=0.01)
    assert areas["R3"] == pytest.approx(utm_area(deg_square(0.015, -0.01, 0.005)), rel=0.01)
    # R1 gained a strip 0.015 degree wide east of it and one 0.015 degree high north of it.
    grown = utm_area(deg_square(-0.02, -0.01, 0.035)) - utm_area(deg_square(-0.02, -0.01, 0.02))
    assert areas["R1"] == pytest.approx(grown, rel=0.01)
    assert summary.moves == {"open reports": []}
    assert routed_code(QAZVIN_LON + 0.0175, QAZVIN_LAT - 0.0075) == "R3"


@pytest.mark.django_db
def test_import_refuses_a_code_used_by_a_kept_level(tmp_path: Path) -> None:
    run(regions(tmp_path), commit=True)
    subs = write_geojson(tmp_path / "subs.geojson", [feature("R1", "a", [deg_square(-0.02, -0.01)])])
    with pytest.raises(BoundaryImportError, match="already used by districts of another level.*R1"):
        run(subs, level=DistrictLevel.SUB_DISTRICT)


# --- figures ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_overlap_and_gap_areas_of_known_squares(tmp_path: Path) -> None:
    # A 3 km x 3 km block of 1 km squares around an empty centre (a 1 km² gap); the north-east square
    # reaches 200 m into its western neighbour (a 0.2 km² overlap). Shared edges are not overlaps.
    features = []
    for row in range(3):
        for col in range(3):
            if (row, col) == (1, 1):
                continue
            x, size_x = col * 1000, 1000
            if (row, col) == (2, 2):
                x, size_x = x - 200, 1200
            ring: list[list[float]] = [[UTM_X + x, UTM_Y + row * 1000]]
            ring += [
                [UTM_X + x + size_x, UTM_Y + row * 1000],
                [UTM_X + x + size_x, UTM_Y + row * 1000 + 1000],
            ]
            ring += [[UTM_X + x, UTM_Y + row * 1000 + 1000], ring[0]]
            features.append(feature(f"C{row}{col}", "x", [ring]))
    path = write_geojson(tmp_path / "block.geojson", features, srid=32639)

    summary = run(path)

    assert [(o.code_a, o.code_b) for o in summary.overlaps] == [("C21", "C22")]
    # C22's long south edge passes C12's corner: a millimetres-thin sliver, counted, not listed.
    assert summary.slivers == 1
    assert summary.overlap_area_m2 == pytest.approx(200_000, rel=0.02)
    assert len(summary.gaps) == 1
    assert summary.gap_area_m2 == pytest.approx(1_000_000, rel=0.02)
    gap = summary.gaps[0]
    centre = Point(UTM_X + 1500, UTM_Y + 1500, srid=32639).transform(4326, clone=True)
    assert isinstance(centre, Point)
    assert (gap.lon, gap.lat) == (pytest.approx(centre.x, abs=0.006), pytest.approx(centre.y, abs=0.006))


# --- the command ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_command_prints_an_aligned_summary_and_the_dry_run_notice(tmp_path: Path, capsys: Any) -> None:
    path = write_geojson(
        tmp_path / "overlap.geojson",
        [feature("A", "a", [utm_square(0, 0, 1000)]), feature("B", "b", [utm_square(500, 0, 1000)])],
        srid=32639,
    )

    call_command("import_districts", str(path), "--code-field", "code", "--name-field", "name")

    out = capsys.readouterr().out
    lines = {line.split("  ")[0]: line for line in out.splitlines()}
    assert lines["features imported"].split()[-1] == "2"
    overlap = lines["overlaps"].split("pair(s), ")[1]
    assert float(overlap.removesuffix(" m²").replace(",", "")) == pytest.approx(500_000, rel=0.02)
    value_columns = {line.index(line.split()[-1]) for line in (lines["features imported"], lines["vertices"])}
    assert len(value_columns) == 1  # figures start in one column
    assert out.rstrip().endswith("Dry run: nothing written. Add --commit to write.")
    assert not BoundarySet.objects.exists()

    call_command(
        "import_districts",
        str(path),
        "--code-field",
        "code",
        "--name-field",
        "name",
        "--commit",
        "--level",
        "region",
    )
    assert "written and activated" in capsys.readouterr().out
    assert active_codes() == ["A", "B"]

    with pytest.raises(CommandError, match="no field “kod”.*code, name"):
        call_command("import_districts", str(path), "--code-field", "kod", "--name-field", "name")


# --- real data ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_qazvin_province_counties_with_nested_osm_tags(tmp_path: Path) -> None:
    summary = run(
        QAZVIN_COUNTIES,
        code_field="id",
        name_field="tags.name",
        name_en_field="tags.name:en",
        commit=True,
    )

    assert summary.features == 6
    assert summary.skipped == {"Point": 2}
    assert summary.vertices > 1000
    county = District.objects.get(boundary_set__active=True, code="6555151")
    assert (county.name_fa, county.name_en) == ("شهرستان قزوین", "Qazvin County")
    match = district_for_point(point=Point(QAZVIN_LON, QAZVIN_LAT, srid=4326))
    assert match is not None and match.name_en == "Qazvin County"
    # Takestan lies west of Qazvin.
    assert routed_code(49.70, 36.07) == "6554959"


# --- what changes hands, and the open reports that would move ------------------------------------------


def _city_regions(tmp_path: Path, edge: float) -> Path:
    """The standard test city's regions (conftest `city`) with the R1/R2 edge at longitude `edge`."""
    return write_geojson(
        tmp_path / f"regions_{edge}.geojson",
        [
            feature(
                "R1",
                "منطقه یک",
                [[[50.00, 36.26], [edge, 36.26], [edge, 36.28], [50.00, 36.28], [50.00, 36.26]]],
            ),
            feature(
                "R2",
                "منطقه دو",
                [[[edge, 36.26], [50.04, 36.26], [50.04, 36.28], [edge, 36.28], [edge, 36.26]]],
            ),
        ],
    )


def test_dry_run_reports_the_area_that_changes_hands_and_the_open_reports_that_would_move(
    city: Any, tmp_path: Path, capsys: Any
) -> None:
    from districts.changes import DistrictMove
    from issues.models import Report, ReportStatus
    from issues.services.intake import report_create
    from issues.services.reroute import reports_reroute
    from tests.conftest import pt

    # The R1/R2 edge moves from lon 50.02 to 50.015: three open reports and a closed one lie in the
    # strip; the others stay where they are.
    in_strip = [
        report_create(category=city.pothole, location=pt(50.016 + i * 0.001, 36.27)) for i in range(3)
    ]
    closed = report_create(category=city.pothole, location=pt(50.019, 36.275))
    Report.objects.filter(pk=closed.pk).update(status=ReportStatus.CLOSED)
    for lon in (50.005, 50.012, 50.025, 50.035):
        report_create(category=city.pothole, location=pt(lon, 36.27))
    before = (BoundarySet.objects.count(), District.objects.count())
    path = _city_regions(tmp_path, 50.015)

    summary = run(path)

    strip = utm_area([[50.015, 36.26], [50.02, 36.26], [50.02, 36.28], [50.015, 36.28], [50.015, 36.26]])
    assert {(c.code, c.kind): c.area_m2 for c in summary.area_changes} == {
        ("R1", "moved"): pytest.approx(strip, rel=0.01),
        ("R2", "moved"): pytest.approx(strip, rel=0.01),
    }
    assert summary.moves == {"open reports": [DistrictMove("R1", "R2", 3)]}
    assert summary.moving() == 3
    assert (BoundarySet.objects.count(), District.objects.count()) == before  # a dry run

    call_command("import_districts", str(path), "--code-field", "code", "--name-field", "name")
    out = capsys.readouterr().out
    lines = {line.strip().split("  ")[0]: line for line in out.splitlines()}
    assert lines["area changing hands"].endswith("2 district(s)")
    assert lines["R1"].endswith("(redrawn); open reports: 3 would leave, 0 would join")
    assert lines["R2"].endswith("(redrawn); open reports: 0 would leave, 3 would join")
    assert float(lines["R1"].split()[1].replace(",", "")) == pytest.approx(strip, rel=0.01)
    assert lines["open reports moving"].endswith("3 would change district")
    assert lines["R1 -> R2"].split()[-1] == "3"
    assert "sample points" not in out

    # Committed, `reroute` moves exactly those.
    run(path, commit=True)
    moves = reports_reroute(commit=False)
    assert sorted(m.tracking_code for m in moves) == sorted(r.tracking_code for r in in_strip)


# --- one import at a time, and never over an edit ------------------------------------------------------


def _in_thread(target: Any, name: str = "") -> tuple[threading.Thread, dict[str, Any]]:
    """Run `target` in a thread of its own (its own database connection); the result or the error
    lands in the returned dict."""
    outcome: dict[str, Any] = {}

    def body() -> None:
        try:
            outcome["result"] = target()
        except BaseException as exc:  # noqa: BLE001 (reported to the test)
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=body, name=name or None, daemon=True)
    thread.start()
    return thread, outcome


@pytest.mark.django_db(transaction=True)
def test_an_import_waits_for_a_district_edit_in_progress_and_keeps_it(tmp_path: Path) -> None:
    from districts.services import district_update

    run(regions(tmp_path), commit=True, set_name="v1")
    edited = threading.Event()
    release = threading.Event()

    def edit() -> None:
        # An admin redraws R1 of the active set; the transaction stays open a moment.
        with transaction.atomic():
            r1 = District.objects.get(boundary_set__active=True, code="R1")
            district_update(district=r1, boundary=Polygon(deg_square(-0.03, -0.01, 0.03), srid=4326))
            edited.set()
            release.wait(10)

    editor, edit_outcome = _in_thread(edit)
    assert edited.wait(10)
    subs = write_geojson(
        tmp_path / "subs.geojson", [feature("S1", "a", [deg_square(-0.02, -0.01)], region="R1")]
    )
    importer, import_outcome = _in_thread(
        lambda: run(subs, level=DistrictLevel.SUB_DISTRICT, parent_field="region", commit=True, set_name="v2")
    )
    importer.join(1.0)
    waited = importer.is_alive()  # the import waits for the edit to commit
    release.set()
    editor.join(10)
    importer.join(30)
    assert "error" not in edit_outcome and "error" not in import_outcome, (edit_outcome, import_outcome)
    assert waited
    # The new set copied R1 as the admin left it, not as it was when the import started.
    r1 = District.objects.get(boundary_set__active=True, code="R1")
    assert r1.boundary_set.name == "v2"
    assert r1.boundary.equals(MultiPolygon(Polygon(deg_square(-0.03, -0.01, 0.03), srid=4326), srid=4326))


@pytest.mark.django_db(transaction=True)
def test_two_imports_run_one_after_the_other_and_the_second_builds_on_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from districts import importing

    run(regions(tmp_path), commit=True, set_name="v1")
    measuring = threading.Event()
    release = threading.Event()
    gaps = importing._gaps

    def slow_gaps(district_ids: list[int]) -> Any:
        # The first import pauses while it measures (its transaction open); the second does not.
        if threading.current_thread().name == "first":
            measuring.set()
            release.wait(10)
        return gaps(district_ids)

    monkeypatch.setattr(importing, "_gaps", slow_gaps)
    subs = write_geojson(
        tmp_path / "subs.geojson", [feature("S1", "a", [deg_square(-0.02, -0.01)], region="R1")]
    )
    first, first_outcome = _in_thread(
        lambda: run(
            subs, level=DistrictLevel.SUB_DISTRICT, parent_field="region", commit=True, set_name="subs"
        ),
        "first",
    )
    assert measuring.wait(10)
    moved = write_geojson(
        tmp_path / "moved.geojson",
        [
            feature("R1", "a", [deg_square(-0.02, -0.01, 0.025)]),
            feature("R2", "b", [deg_square(0.005, -0.01, 0.015)]),
        ],
    )
    second, second_outcome = _in_thread(lambda: run(moved, commit=True, set_name="regions"))
    second.join(1.0)
    waited = second.is_alive()
    release.set()
    first.join(30)
    second.join(30)
    assert "error" not in first_outcome and "error" not in second_outcome, (first_outcome, second_outcome)
    assert waited
    # The second import read the first one's set: the sub-district it added is kept.
    assert second_outcome["result"].previous_set == "subs"
    assert BoundarySet.objects.get(active=True).name == "regions"
    assert active_codes() == ["R1", "R2", "S1"]
