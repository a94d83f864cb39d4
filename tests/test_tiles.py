"""Vector tiles of the public reports (/tiles/reports/{z}/{x}/{y}.mvt), decoded here with
mapbox-vector-tile: single reports with public properties only at high zoom, counts per cell at
low zoom, the feature and byte limits, empty tiles, filters, the caching headers, bad addresses;
and the tile maths of geo/tiles.py against PostGIS."""

from __future__ import annotations

import json
import math
import random
import re
from datetime import timedelta

import mapbox_vector_tile
import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.test import Client
from django.utils import timezone

from districts.models import RoutingRule
from geo import tiles as t
from issues.filters import ReportFilters
from issues.models import Report
from issues.oversight.sql import filters_sql

NAME = "Quorvell Tamsby"
PHONE = "09127770123"
EMAIL = "quorvell.tamsby@example.org"
TOKEN_HASH = "f" * 64
OPEN = ("received", "forwarded", "acknowledged", "in_progress", "done", "transferred", "reopened")


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    x = math.floor(t.lon_to_fx(lon)) >> (t.CELL_LEVEL - z)
    y = math.floor(t.lat_to_fy(lat)) >> (t.CELL_LEVEL - z)
    return z, x, y


def report_row(
    city, number: int, lon, lat, *, status="received", category=None, district=None, kind="service_request"
) -> Report:
    """An unsaved report, with contact details and a token hash that must never reach a tile."""
    return Report(
        tracking_code=f"T{number:07d}",
        category=category or city.pothole,
        kind=kind,
        description="چاله",
        description_search="چاله",
        location=Point(lon, lat, srid=4326) if lon is not None else None,
        status=status,
        district=district,
        routing_rule=RoutingRule.COVERS,
        routed_at=timezone.now(),
        reporter_name=NAME,
        reporter_phone=PHONE,
        reporter_email=EMAIL,
        private_token_hash=f"{number:064d}",
    )


def make_reports(city, points, **fields) -> list[Report]:
    """Reports straight into the table (the tiles read the table, not how reports arrive)."""
    start = Report.objects.count()
    return Report.objects.bulk_create(
        [report_row(city, start + i, lon, lat, **fields) for i, (lon, lat) in enumerate(points)]
    )


def get_tile(client: Client, z: int, x: int, y: int, **params):
    return client.get(f"/tiles/reports/{z}/{x}/{y}.mvt", params)


def decode(response) -> dict:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/vnd.mapbox-vector-tile"
    return mapbox_vector_tile.decode(response.content, default_options={"y_coord_down": True})


@pytest.fixture
def client() -> Client:
    return Client()


# --- Tile maths (geo/tiles.py) ---------------------------------------------------------------------


def test_cell_key_in_python_is_the_database_key(db):
    rng = random.Random(7)
    points = [(rng.uniform(-180, 180), rng.uniform(-89.9, 89.9)) for _ in range(2000)]
    points += [(50.0, 36.27), (-180.0, 0.0), (180.0, 0.0), (0.0, 90.0), (0.0, -90.0), (49.99999, 36.0)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT open137_cell_key(x, y) FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS u(x, y, i)"
            " ORDER BY i",
            [[p[0] for p in points], [p[1] for p in points]],
        )
        keys = [k for (k,) in cursor.fetchall()]
    assert keys == [t.cell_key(lon, lat) for lon, lat in points]
    with connection.cursor() as cursor:
        cursor.execute("SELECT open137_cell_compact(%s), open137_cell_compact(%s >> 1)", [keys[0], keys[0]])
        assert cursor.fetchone() == t.cell_xy(keys[0])


def test_spread_compact_and_key_ranges():
    rng = random.Random(3)
    for _ in range(500):
        x, y = rng.randrange(1 << 30), rng.randrange(1 << 30)
        assert t.cell_xy(t.morton(x, y)) == (x, y)
    # A tile's range holds exactly the keys of the points in it: those of its four children, in order.
    low, high = t.cell_key_range(10, 650, 403)
    children = [t.cell_key_range(11, 1300 + dx, 806 + dy) for dy in (0, 1) for dx in (0, 1)]
    assert min(c[0] for c in children) == low and max(c[1] for c in children) == high
    assert sum(c[1] - c[0] + 1 for c in children) == high - low + 1
    lon, lat = 50.0, 36.27
    z, x, y = tile_of(lon, lat, 12)
    low, high = t.cell_key_range(z, x, y)
    assert low <= t.cell_key(lon, lat) <= high


@pytest.mark.parametrize("levels", [0, 1, 3, 5])
def test_the_ring_around_a_tile_is_its_neighbours_edge_cells(levels):
    """ring_key_ranges (table of edge keys plus the neighbour's key) names the cells one step
    outside the tile at its cell level, and nothing past the edge of the world."""
    rng = random.Random(levels)
    tiles = [(0, 0, 0), (1, 0, 1), (12, 0, 0), (12, 4095, 4095), (14, 0, 6000)]
    tiles += [
        (z, rng.randrange(1 << z), rng.randrange(1 << z)) for z in [rng.randrange(2, 24) for _ in range(60)]
    ]
    for z, x, y in tiles:
        level, side = z + levels, 1 << levels
        cx0, cy0, last = x << levels, y << levels, (1 << level) - 1
        expected = {
            t.cell_key_range(level, cx, cy)
            for cx in range(cx0 - 1, cx0 + side + 1)
            for cy in range(cy0 - 1, cy0 + side + 1)
            if 0 <= cx <= last and 0 <= cy <= last and not (cx0 <= cx < cx0 + side and cy0 <= cy < cy0 + side)
        }
        ring = t.ring_key_ranges(t.Tile(z, x, y), levels=levels)
        assert len(ring) == len(expected) and set(ring) == expected, (z, x, y)


def test_tile_bounds_are_postgis_tile_envelopes(db):
    with connection.cursor() as cursor:
        for z, x, y in [(0, 0, 0), (10, 650, 403), (17, 83221, 51642), (24, 10652352, 6610234)]:
            cursor.execute(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ST_TileEnvelope(%s, %s, %s) e",
                [z, x, y],
            )
            assert t.tile_bounds(z, x, y) == pytest.approx(cursor.fetchone(), abs=1e-6)


@pytest.mark.parametrize(
    "address",
    [
        ("25", "0", "0"),
        ("-1", "0", "0"),
        ("3", "8", "0"),
        ("3", "0", "8"),
        ("a", "0", "0"),
        ("1.5", "0", "0"),
        ("٣", "0", "0"),
        ("99999999999", "0", "0"),
    ],
)
def test_tile_parse_refuses_what_names_no_tile(address):
    with pytest.raises(t.TileError):
        t.tile_parse(*address)


def test_tile_parse_accepts_the_corners():
    assert t.tile_parse("0", "0", "0") == t.Tile(0, 0, 0)
    assert t.tile_parse(24, (1 << 24) - 1, 0) == t.Tile(24, (1 << 24) - 1, 0)


def test_box_key_ranges_are_exact_by_the_margin():
    """Every point in an `inside` range lies in the box; every point in the box is in a range."""
    rng = random.Random(11)
    box = (49.95, 36.22, 50.07, 36.31)
    ranges = t.bbox_key_ranges(box, max_border=32)
    assert ranges.inside and ranges.border

    def find(key: int, found: tuple[tuple[int, int], ...]) -> bool:
        return any(low <= key <= high for low, high in found)

    for _ in range(5000):
        lon, lat = rng.uniform(49.9, 50.12), rng.uniform(36.18, 36.35)
        key = t.cell_key(lon, lat)
        inside_box = box[0] <= lon <= box[2] and box[1] <= lat <= box[3]
        if find(key, ranges.inside):
            assert inside_box
        if inside_box:
            assert find(key, ranges.inside) or find(key, ranges.border)
    # Points exactly on the edges are in a range too (a box's edge is inside it, as in the list).
    for lon, lat in [(box[0], box[1]), (box[2], box[3]), (box[0], 36.25), (50.0, box[3])]:
        key = t.cell_key(lon, lat)
        assert find(key, ranges.inside) or find(key, ranges.border)


# --- Tiles ------------------------------------------------------------------------------------------


@pytest.fixture
def reports(city):
    """Six open reports and a closed one around S11 (inside R1), one open in R2, one without a point."""
    lon, lat = city.points.s11
    near = [(lon + i * 0.0001, lat + i * 0.00005) for i in range(6)]
    made = make_reports(city, near, district=city.districts["S11"])
    made += make_reports(city, [(lon - 0.0002, lat)], status="closed", district=city.districts["S11"])
    made += make_reports(city, [city.points.r2], status="in_progress", district=city.districts["R2"])
    made += make_reports(city, [(None, None)], category=city.suggestion)
    return made


def test_high_zoom_tile_has_single_reports_with_public_properties_only(city, reports, client):
    lon, lat = city.points.s11
    z, x, y = tile_of(lon, lat, 16)
    response = get_tile(client, z, x, y)
    layers = decode(response)
    assert set(layers) == {"reports"}
    features = layers["reports"]["features"]
    expected = {r.tracking_code: r for r in reports[:6]}
    assert {f["properties"]["code"] for f in features} == set(expected)  # the closed one is not open
    today = timezone.localdate().isoformat()
    for feature in features:
        props = feature["properties"]
        assert set(props) == {"code", "category", "status", "created"}
        assert props["category"] == "pothole" and props["status"] == "received" and props["created"] == today
        assert feature["geometry"]["type"] == "Point"
        px, py = feature["geometry"]["coordinates"]
        assert 0 <= px <= 4096 and 0 <= py <= 4096
    # Placed where the report is: tile coordinates from the point's Web Mercator position.
    report = expected[features[0]["properties"]["code"]]
    min_x, min_y, max_x, max_y = t.tile_bounds(z, x, y)
    mx = report.location.x * math.pi / 180 * 6378137.0
    my = math.log(math.tan(math.pi / 4 + math.radians(report.location.y) / 2)) * 6378137.0
    assert features[0]["geometry"]["coordinates"] == [
        pytest.approx((mx - min_x) / (max_x - min_x) * 4096, abs=1),
        pytest.approx((max_y - my) / (max_y - min_y) * 4096, abs=1),
    ]
    for secret in (NAME, PHONE, EMAIL, "0" * 60):
        assert secret.encode() not in response.content


def test_a_report_filed_through_the_api_is_in_its_tile(city, client, settings, tmp_path):
    """The cell key is a generated column: the report's own INSERT fills it, whatever writes it."""
    settings.OPEN137_RATE_REPORTS = ""
    settings.MEDIA_ROOT = str(tmp_path)
    lon, lat = city.points.r2
    response = client.post(
        "/api/reports/",
        json.dumps(
            {
                "category": "pothole",
                "lat": lat,
                "lon": lon,
                "description": "چاله",
                "name": NAME,
                "phone": PHONE,
                "email": EMAIL,
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    created = response.json()
    tile = get_tile(client, *tile_of(lon, lat, 17))
    [feature] = decode(tile)["reports"]["features"]
    assert feature["properties"]["code"] == created["code"]
    for secret in (NAME, PHONE, EMAIL, created["private_token"]):
        assert secret.encode() not in tile.content
    # Moving the report moves its key.
    Report.objects.filter(tracking_code=created["code"]).update(location=Point(50.001, 36.261, srid=4326))
    assert get_tile(client, *tile_of(lon, lat, 17)).status_code == 204
    assert decode(get_tile(client, *tile_of(50.001, 36.261, 17)))["reports"]["features"]


def test_low_zoom_tile_counts_per_cell(city, reports, client, settings):
    lon, lat = city.points.s11
    z, x, y = tile_of(lon, lat, 10)
    layers = decode(get_tile(client, z, x, y))
    assert set(layers) == {"cells"}
    features = layers["cells"]["features"]
    assert sum(f["properties"]["count"] for f in features) == 7  # six open near S11, one in R2
    for feature in features:
        assert set(feature["properties"]) == {"count"}
        px, py = feature["geometry"]["coordinates"]
        # Cell centres: 32 x 32 cells of 128 units (a ring of cells around the tile in its buffer).
        assert px % 128 == 64 and py % 128 == 64
    # The cell of the S11 reports is where they are.
    level = z + settings.OPEN137_TILE_CELL_LEVELS
    cx = (math.floor(t.lon_to_fx(lon)) >> (t.CELL_LEVEL - level)) - (x << 5)
    cy = (math.floor(t.lat_to_fy(lat)) >> (t.CELL_LEVEL - level)) - (y << 5)
    counts = {tuple(f["geometry"]["coordinates"]): f["properties"]["count"] for f in features}
    assert counts[(cx * 128 + 64, cy * 128 + 64)] >= 5
    # The threshold is a setting.
    settings.OPEN137_TILE_DETAIL_ZOOM = 10
    assert set(decode(get_tile(client, z, x, y))) == {"reports"}


def test_a_whole_world_tile_counts_everything(city, reports, client):
    layers = decode(get_tile(client, 0, 0, 0, status="open,closed"))
    assert sum(f["properties"]["count"] for f in layers["cells"]["features"]) == 8


def test_too_many_reports_for_one_tile_are_sent_as_counts(city, reports, client, settings):
    lon, lat = city.points.s11
    z, x, y = tile_of(lon, lat, 16)
    settings.OPEN137_TILE_MAX_FEATURES = 6
    assert len(decode(get_tile(client, z, x, y))["reports"]["features"]) == 6
    settings.OPEN137_TILE_MAX_FEATURES = 5
    layers = decode(get_tile(client, z, x, y))
    assert set(layers) == {"cells"}
    assert sum(f["properties"]["count"] for f in layers["cells"]["features"]) == 6
    assert len(layers["cells"]["features"]) <= 34 * 34


def test_a_tile_over_the_byte_limit_is_sent_as_counts(city, reports, client, settings):
    lon, lat = city.points.s11
    z, x, y = tile_of(lon, lat, 16)
    full = get_tile(client, z, x, y)
    assert set(decode(full)) == {"reports"}
    settings.OPEN137_TILE_MAX_BYTES = len(full.content) - 1
    small = get_tile(client, z, x, y)
    assert set(decode(small)) == {"cells"} and len(small.content) < len(full.content)


def test_many_reports_stay_within_the_limits(city, client, settings):
    """A dense block: the tile never carries more features than the limit, and never loses one."""
    rng = random.Random(5)
    lon, lat = city.points.r1
    make_reports(city, [(lon + rng.uniform(0, 0.004), lat + rng.uniform(0, 0.003)) for _ in range(600)])
    settings.OPEN137_TILE_MAX_FEATURES = 250
    for z in range(12, 19):
        zt, x, y = tile_of(lon + 0.002, lat + 0.0015, z)
        layers = decode(get_tile(client, zt, x, y))
        [(name, layer)] = layers.items()
        assert len(layer["features"]) <= 250
        if name == "reports":
            assert len({f["properties"]["code"] for f in layer["features"]}) == len(layer["features"])


def test_the_buffer_carries_reports_just_across_the_edge(city, client):
    z, x, y = tile_of(*city.points.s11, 17)
    west = t.x_to_lon(x, z)  # the tile's west edge
    north = t.y_to_lat(y, z)
    width = t.x_to_lon(x + 1, z) - west
    height = north - t.y_to_lat(y + 1, z)
    made = make_reports(
        city,
        [
            (west - width * 10 / 4096, north - height / 2),  # 10 units west of the edge: in the buffer
            (west - width * 200 / 4096, north - height / 2),  # 200 units west: not in this tile
        ],
    )
    features = decode(get_tile(client, z, x, y))["reports"]["features"]
    assert [f["properties"]["code"] for f in features] == [made[0].tracking_code]
    assert -11 <= features[0]["geometry"]["coordinates"][0] <= -9
    # And in its own tile, inside.
    own = decode(get_tile(client, z, x - 1, y))["reports"]["features"]
    assert {f["properties"]["code"] for f in own} == {made[0].tracking_code, made[1].tracking_code}


def test_a_count_tile_counts_the_ring_of_cells_around_it(city, client):
    """At low zoom the buffer reaches the centres of the neighbouring cells: the one cell across each
    edge is counted (drawn half on each tile), the next one is not."""
    z, x, y = tile_of(*city.points.s11, 12)
    west, north = t.x_to_lon(x, z), t.y_to_lat(y, z)
    width, height = t.x_to_lon(x + 1, z) - west, north - t.y_to_lat(y + 1, z)
    middle = north - height * 2000 / 4096
    made = make_reports(
        city,
        [
            (west - width * 50 / 4096, middle),  # in the ring cell west of the tile (128 units wide)
            (west - width * 300 / 4096, middle),  # two cells out: another tile's only
            (west + width * 4146 / 4096, north - height * 4146 / 4096),  # the south-east corner cell
        ],
    )
    cells = decode(get_tile(client, z, x, y))["cells"]["features"]
    placed = {tuple(f["geometry"]["coordinates"]): f["properties"]["count"] for f in cells}
    assert placed == {(-64, 1984): 1, (4160, 4160): 1}, placed
    west_tile = decode(get_tile(client, z, x - 1, y))["cells"]["features"]
    assert sum(f["properties"]["count"] for f in west_tile) == 2
    assert made  # the three rows exist


def test_a_tile_at_the_edge_of_the_world_has_its_reports(city, client):
    """The buffer of a tile on the antimeridian or the pole's edge reaches past the world; the tile
    still answers with the reports inside."""
    [far_west] = make_reports(city, [(-179.99995, 10.0)])
    z, x, y = tile_of(-179.99995, 10.0, 16)
    assert x == 0
    features = decode(get_tile(client, z, x, y))["reports"]["features"]
    assert [f["properties"]["code"] for f in features] == [far_west.tracking_code]
    [top] = make_reports(city, [(20.0, 85.0510)])
    z, x, y = tile_of(20.0, 85.0510, 15)
    assert y == 0
    assert [f["properties"]["code"] for f in decode(get_tile(client, z, x, y))["reports"]["features"]] == [
        top.tracking_code
    ]


def test_empty_tile_is_204(city, reports, client):
    z, x, y = tile_of(10.0, 50.0, 14)
    response = get_tile(client, z, x, y)
    assert response.status_code == 204 and response.content == b""
    assert response["Cache-Control"] == "public, max-age=60"
    # Filtered to nothing: empty too.
    assert get_tile(client, *tile_of(*city.points.s11, 16), status="duplicate").status_code == 204


def test_filters_mean_what_they_mean_in_the_list(city, reports, client):
    z, x, y = tile_of(*city.points.s11, 15)

    def codes(**params) -> set[str]:
        response = get_tile(client, z, x, y, **params)
        if response.status_code == 204:
            return set()
        return {f["properties"]["code"] for f in decode(response)["reports"]["features"]}

    open_near = {r.tracking_code for r in reports[:6]}
    closed = reports[6].tracking_code
    assert codes() == open_near
    assert codes(status="closed") == {closed}
    assert codes(status="open,closed") == open_near | {closed}
    assert codes(status="received") == open_near
    assert codes(category="pothole") == open_near
    assert codes(category="suggestion") == set()
    assert codes(district="R1") == open_near  # a region brings its sub-districts
    assert codes(district="S11") == open_near
    assert codes(district="R2") == set()
    Report.objects.filter(tracking_code__in=sorted(open_near)[:2]).update(
        created_at=timezone.now() - timedelta(days=40)
    )
    last_month = (timezone.localdate() - timedelta(days=30)).isoformat()
    assert codes(since=last_month) == set(sorted(open_near)[2:])
    assert codes(until=last_month) == set(sorted(open_near)[:2])
    assert codes(kind="complaint") == set()
    assert codes(q="چاله") == open_near
    assert codes(q="ندارد") == set()
    # Low zoom counts the same filtered set.
    low = decode(get_tile(client, *tile_of(*city.points.s11, 9), since=last_month))
    assert sum(f["properties"]["count"] for f in low["cells"]["features"]) == 5  # 4 near S11, 1 in R2


@pytest.mark.parametrize(
    "params, field",
    [
        ({"status": "lost"}, "status"),
        ({"category": "nope"}, "category"),
        ({"district": "ZZ"}, "district"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "since"),
        ({"kind": "rumour"}, "kind"),
    ],
)
def test_a_bad_filter_is_the_lists_400(city, client, params, field):
    tile = get_tile(client, 14, 10000, 6000, **params)
    listed = client.get("/api/reports/", params)
    assert tile.status_code == 400 == listed.status_code
    assert tile.json() == listed.json()
    assert list(tile.json()["detail"]) == [field]


@pytest.mark.parametrize(
    "path",
    ["25/0/0", "3/8/0", "3/0/8", "3/-1/0", "a/0/0", "10/1.5/3", "99999999999/0/0"],
)
def test_an_address_out_of_range_is_400(db, client, path):
    response = client.get(f"/tiles/reports/{path}.mvt")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "code", "detail", "errors"} and list(body["detail"]) == ["tile"]
    assert body["code"] == "invalid"


def test_a_tile_is_one_answer_for_every_visitor_with_the_sites_security_headers(city, reports):
    """Tiles are answered before the session, language and user middleware: a visitor's session
    or language makes no other tile (nothing to split a proxy's cache), and the security headers
    every answer carries are there. A bad address still gets its 400 in the visitor's language."""
    z, x, y = tile_of(*city.points.s11, 16)
    persian = Client(HTTP_ACCEPT_LANGUAGE="fa")
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    english.cookies["sessionid"] = "x" * 32
    answers = [c.get(f"/tiles/reports/{z}/{x}/{y}.mvt") for c in (persian, english)]
    assert answers[0].content == answers[1].content and answers[0]["ETag"] == answers[1]["ETag"]
    for answer in answers:
        assert "Accept-Language" not in answer.get("Vary", "") and "Cookie" not in answer.get("Vary", "")
        assert not answer.cookies
        assert "Content-Security-Policy" in answer and answer["X-Content-Type-Options"] == "nosniff"
    in_english = english.get("/tiles/reports/25/0/0.mvt").json()["detail"]["tile"][0]
    in_persian = persian.get("/tiles/reports/25/0/0.mvt").json()["detail"]["tile"][0]
    assert in_english.startswith("zoom 25 is out of range"), in_english
    assert in_persian != in_english and re.search("[\u0600-\u06ff]", in_persian), in_persian


def test_caching_headers_and_304(city, reports, client):
    z, x, y = tile_of(*city.points.s11, 16)
    first = get_tile(client, z, x, y)
    assert first.status_code == 200
    assert first["Cache-Control"] == "public, max-age=60"
    etag = first["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert get_tile(client, z, x, y)["ETag"] == etag  # same reports, same bytes
    again = client.get(f"/tiles/reports/{z}/{x}/{y}.mvt", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    assert client.get(f"/tiles/reports/{z}/{x}/{y}.mvt", HTTP_IF_NONE_MATCH='"other"').status_code == 200
    assert get_tile(client, z, x, y, status="open,closed")["ETag"] != etag
    Report.objects.filter(pk=reports[0].pk).update(status="closed")
    assert get_tile(client, z, x, y)["ETag"] != etag


def test_max_age_is_a_setting_and_only_get_is_answered(city, reports, client, settings):
    settings.OPEN137_MAP_MAX_AGE = 300
    z, x, y = tile_of(*city.points.s11, 16)
    assert get_tile(client, z, x, y)["Cache-Control"] == "public, max-age=300"
    assert client.head(f"/tiles/reports/{z}/{x}/{y}.mvt").status_code == 200
    assert client.post(f"/tiles/reports/{z}/{x}/{y}.mvt").status_code == 405


def test_tiles_run_with_jit_off_and_leave_the_setting(city, reports, client):
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('jit', 'on', false)")  # as behind a pooler
    # A connection that has not yet been seen with JIT off (the note is per connection).
    vars(connection.connection).pop("_open137_jit", None)
    seen = []

    def spy(execute, sql, params, many, context):
        if "ST_AsMVT" in sql:
            with context["connection"].cursor() as cursor:
                cursor.execute("SELECT current_setting('jit')")
                seen.append(cursor.fetchone()[0])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        decode(get_tile(client, *tile_of(*city.points.s11, 16)))
    assert seen == ["off"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit')")
        assert cursor.fetchone()[0] == "on"


def test_the_app_connections_start_with_jit_off(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit')")
        assert cursor.fetchone()[0] == "off"


def _plan(sql: str, params, *, by_index_only: bool = False) -> str:
    """The statement's plan with sequential scans off (a test table is small enough to be read
    whole); `by_index_only`: bitmap scans off too, so that on a few rows the planner does not take
    any index of the right rows and filter them, as it never would on a city's."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        if by_index_only:
            cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _status_indexes() -> list[str]:
    """The partial indexes whose predicate is on the status (the open reports' ones)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'issues_report'"
            " AND indexdef LIKE '%% WHERE %%status%%'"
        )
        return [name for (name,) in cursor.fetchall()]


def _status_searched(plan: str) -> bool:
    """An index searched by status (an Index Cond), or a partial index whose predicate is the test
    (the tile's own test, `(status || '') = ANY`, is on no index: it appears as a Filter)."""
    by_status = _status_indexes()
    return any(
        ("Cond" in line and "status" in line and "||" not in line)
        or any(f"using {name} " in line for name in by_status)
        for line in plan.splitlines()
    )


@pytest.mark.parametrize("for_tile", [True, False])
def test_only_a_tile_keeps_its_status_test_away_from_the_status_index(city, reports, for_tile):
    """A tile finds its reports by place alone (see TILE_STATUS_SQL); the other map queries may use
    the status index. Asked with sequential scans off, only an indexable test
    can use it."""
    from issues.filters import ReportFilters
    from issues.oversight.sql import filters_sql

    where, params = filters_sql(ReportFilters(), for_tile=for_tile)
    plan = _plan(f"SELECT count(*) FROM issues_report r WHERE {where}", params)
    assert _status_searched(plan) is not for_tile, plan


def test_the_maps_default_count_tile_can_read_the_open_reports_index(city, reports):
    """The map's default (the open reports) is written so that the open reports' key index, a tenth
    of the entries at a city's scale, can answer it: its predicate must be provable from the
    statement, which a status given as a parameter is not. Which index a planner takes on a test's
    few rows is its own choice; with the whole key index gone (in this test's transaction), only
    the default can use the open reports' one."""
    from issues.oversight.sql import oversight_settings
    from issues.oversight.tiles import CELLS_MVT_SQL, _cell_params, _count_levels

    tile = t.Tile(*tile_of(*city.points.s11, 12))
    config = oversight_settings()
    cells = _cell_params(tile, levels=_count_levels(config, tile.z), buffer=config.tile_buffer)
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX issues_report_cell_key_idx")
    for filters, usable in ((ReportFilters(), True), (ReportFilters(statuses=("closed",)), False)):
        where, params = filters_sql(filters, for_tile=True, open_index=True)
        plan = _plan(CELLS_MVT_SQL.format(where=where), {**params, **cells}, by_index_only=True)
        assert ("report_open_cell_key" in plan) is usable, plan


def test_a_detail_tile_finds_its_reports_by_the_location_index(city, reports):
    """From the detail zoom a tile's reports are found by the GiST index on the location over the
    tile and its buffer (one descent), never through the status index."""
    from issues.oversight.tiles import DETAIL_MVT_SQL

    where, params = filters_sql(ReportFilters(), for_tile=True)
    z, x, y = tile_of(*city.points.s11, 16)
    box = {"west": 49.9, "south": 36.2, "east": 50.1, "north": 36.3}
    params.update(z=z, x=x, y=y, **box, buffer=64, max_features=4000, time_zone="Asia/Tehran")
    plan = _plan(DETAIL_MVT_SQL.format(where=where), params)
    assert "issues_report_location_4628f960_id" in plan, plan
    assert not _status_searched(plan), plan
