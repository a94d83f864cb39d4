"""The heatmap (/api/heatmap/): counts per grid cell made in the database, summing exactly to the
number of reports /api/reports/ finds with the same filters; the box and the filters respected;
cell polygons where the reports are; errors in the API's shape; caching headers; the schema. And the
map filters' SQL against the list's ORM filters, on every filter."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point, Polygon
from django.test import Client
from django.utils import timezone

from geo import tiles as t
from issues.filters import report_filters_parse
from issues.models import Report
from issues.oversight.heatmap import report_heatmap_cells
from issues.oversight.sql import filters_sql
from issues.selectors import report_filters_apply
from tests.test_tiles import make_reports, report_row

URL = "/api/heatmap/"


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def spread_reports(city):
    """A hundred and twenty reports over the test city in every status, some in S11, some in R2, some
    a month old, some without a point, one on the edge of the box the tests use."""
    rng = random.Random(17)
    statuses = ["received", "forwarded", "in_progress", "done", "closed", "duplicate", "verified"]
    rows = []
    for i in range(120):
        lon, lat = rng.uniform(50.0, 50.04), rng.uniform(36.26, 36.28)
        district = city.districts["R2" if lon >= 50.02 else "R1"]
        if 50.005 <= lon <= 50.01 and 36.265 <= lat <= 36.27:
            district = city.districts["S11"]
        suggestion = i % 5 == 0
        rows.append(
            report_row(
                city,
                i,
                lon,
                lat,
                status=statuses[i % len(statuses)],
                category=city.suggestion if suggestion else city.pothole,
                district=district,
                kind="suggestion" if suggestion else "service_request",
            )
        )
    rows.append(report_row(city, 120, 50.01, 36.27, district=city.districts["S11"]))  # on BOX's corner
    rows += [report_row(city, 121 + i, None, None, category=city.suggestion) for i in range(3)]
    made = Report.objects.bulk_create(rows)
    old = [r.pk for r in made[::4]]
    Report.objects.filter(pk__in=old).update(created_at=timezone.now() - timedelta(days=45))
    return made


BOX = "50.005,36.262,50.01,36.27"


def heatmap(client: Client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/geo+json"
    return response.json()


def listed_count(client: Client, **params) -> int:
    params.setdefault("status", "open")  # the map's default
    response = client.get("/api/reports/", {**params, "page_size": 1000})
    assert response.status_code == 200, response.content
    # Reports without a point are on no map.
    located = [f for f in response.json()["features"] if f["geometry"] is not None]
    assert response.json()["count"] <= 1000
    return len(located)


FILTER_CASES = [
    {},
    {"status": "closed"},
    {"status": "open,closed"},
    {"status": "received,done"},
    {"category": "pothole"},
    {"category": "suggestion,pothole", "status": "closed"},
    {"district": "R1"},
    {"district": "S11", "status": "open,closed"},
    {"district": "R2"},
    {"kind": "suggestion"},
    {"q": "چاله"},
    {"bbox": BOX},
    {"bbox": BOX, "status": "open,closed", "category": "pothole"},
    {"bbox": "50.0,36.26,50.04,36.28"},
    {"bbox": "49,35,51,37"},
]


@pytest.mark.parametrize("params", FILTER_CASES)
@pytest.mark.parametrize("zoom", [8, 14, 17])
def test_cells_sum_to_the_filtered_count(city, spread_reports, client, params, zoom):
    body = heatmap(client, zoom=zoom, **params)
    counts = [f["properties"]["count"] for f in body["features"]]
    assert sum(counts) == body["count"] == listed_count(client, **params)
    assert all(n > 0 for n in counts)
    assert body["zoom"] == zoom and body["cell_level"] == zoom + 4


def test_dates_filter_as_in_the_list(city, spread_reports, client):
    last_month = (timezone.localdate() - timedelta(days=30)).isoformat()
    for params in ({"since": last_month}, {"until": last_month}, {"since": last_month, "bbox": BOX}):
        body = heatmap(client, zoom=14, status="open,closed", **params)
        assert body["count"] == listed_count(client, status="open,closed", **params) > 0


def test_cells_are_where_their_reports_are(city, spread_reports, client):
    body = heatmap(client, zoom=15, status="open,closed")
    located = [r for r in spread_reports if r.location is not None]
    total = 0
    for feature in body["features"]:
        ring = feature["geometry"]["coordinates"][0]
        assert feature["geometry"]["type"] == "Polygon" and len(ring) == 5 and ring[0] == ring[-1]
        west, south = ring[0]
        east, north = ring[2]
        # A cell is a Web Mercator tile at the cell level: 2^-19 of the world's width here.
        assert east - west == pytest.approx(360 / 2**19, abs=2e-7)
        inside = [r for r in located if west <= r.location.x < east and south < r.location.y <= north]
        assert len(inside) == feature["properties"]["count"]
        total += len(inside)
    assert total == len(located)


def test_the_box_is_respected_exactly(city, spread_reports, client):
    body = heatmap(client, zoom=16, bbox=BOX, status="open,closed")
    box = Polygon.from_bbox((50.005, 36.262, 50.01, 36.27))
    expected = [r for r in spread_reports if r.location is not None and box.covers(r.location)]
    assert body["count"] == len(expected)
    # The report on the box's corner counts (containment, as the list).
    corner = Point(50.01, 36.27, srid=4326)
    assert any(r.location == corner for r in expected)
    # Cells on the box's edge count only the reports inside it.
    cells = report_heatmap_cells(
        bbox=(50.005, 36.262, 50.01, 36.27),
        zoom=12,
        filters=report_filters_parse({"status": "open,closed"}),
    )
    assert cells.total == len(expected) and len(cells.cells) <= 4


def test_a_box_across_many_ranges(city, client):
    """A dense block cut by a box at a fine zoom: the quadtree's inside and border ranges together
    count exactly the reports inside."""
    rng = random.Random(23)
    points = [(rng.uniform(50.0, 50.02), rng.uniform(36.26, 36.28)) for _ in range(800)]
    make_reports(city, points)
    box = (50.0031, 36.2617, 50.0173, 36.2749)
    expected = sum(1 for lon, lat in points if box[0] <= lon <= box[2] and box[1] <= lat <= box[3])
    ranges = t.bbox_key_ranges(box)
    assert len(ranges.inside) > 10 and len(ranges.border) > 10
    for zoom in (10, 16, 20):
        body = heatmap(client, zoom=zoom, bbox=",".join(map(str, box)))
        assert body["count"] == expected == listed_count(client, bbox=",".join(map(str, box)))


def test_empty_answer_is_an_empty_collection(city, client):
    body = heatmap(client, zoom=12)
    assert body == {"type": "FeatureCollection", "zoom": 12, "cell_level": 16, "count": 0, "features": []}


@pytest.mark.parametrize(
    "params, field",
    [
        ({}, "zoom"),
        ({"zoom": ""}, "zoom"),
        ({"zoom": "25"}, "zoom"),
        ({"zoom": "-1"}, "zoom"),
        ({"zoom": "1.5"}, "zoom"),
        ({"zoom": "12", "status": "lost"}, "status"),
        ({"zoom": "12", "bbox": "1,2,3"}, "bbox"),
        ({"zoom": "12", "category": "nope"}, "category"),
        ({"zoom": "12", "district": "ZZ"}, "district"),
        ({"zoom": "12", "until": "not a date"}, "until"),
    ],
)
def test_bad_parameters_are_a_clear_400(city, client, params, field):
    response = client.get(URL, params)
    assert response.status_code == 400
    body = response.json()
    assert list(body["detail"]) == [field] and body["error"].startswith(f"{field}: ")
    if field != "zoom":  # the same answer as the list's
        listed = client.get("/api/reports/", {k: v for k, v in params.items() if k != "zoom"})
        assert listed.json() == body


def test_persian_digits_in_zoom(city, spread_reports, client):
    assert heatmap(client, zoom="۱۴")["zoom"] == 14


def test_too_many_cells_is_refused_not_cut(city, spread_reports, client, settings):
    settings.OPEN137_HEATMAP_MAX_CELLS = 10
    response = client.get(URL, {"zoom": 18, "status": "open,closed"})
    assert response.status_code == 400 and list(response.json()["detail"]) == ["zoom"]
    assert heatmap(client, zoom=6, status="open,closed")["count"] == 121


def test_cell_size_is_a_setting(city, spread_reports, client, settings):
    settings.OPEN137_HEATMAP_CELL_LEVELS = 2
    body = heatmap(client, zoom=14)
    assert body["cell_level"] == 16 and body["count"] == listed_count(client)


def test_caching_headers(city, spread_reports, client):
    first = client.get(URL, {"zoom": 14})
    assert first["Cache-Control"] == "public, max-age=60"
    etag = first["ETag"]
    again = client.get(URL, {"zoom": 14}, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag
    assert client.get(URL, {"zoom": 15})["ETag"] != etag


def test_in_the_schema(db, client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/heatmap/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"zoom", "bbox", "status", "category", "district", "since", "until"} <= names
    assert operation["operationId"] == "heatmap"


# --- The map filters' SQL means what the list's ORM filters mean --------------------------------------


def test_map_filters_select_what_the_list_filters_select(city, spread_reports):
    from django.db import connection

    last_month = (timezone.localdate() - timedelta(days=30)).isoformat()
    options = {
        "status": [None, "open", "closed", "received,duplicate"],
        "category": [None, "pothole", "suggestion"],
        "district": [None, "R1", "S11", "R2"],
        "kind": [None, "suggestion"],
        "since": [None, last_month],
        "until": [None, last_month],
        "q": [None, "چاله"],
        "bbox": [None, BOX],
    }
    rng = random.Random(29)
    combos = list(itertools.product(*options.values()))
    for values in [combos[0], combos[-1], *rng.sample(combos, 150)]:
        params = {k: v for k, v in zip(options, values, strict=True) if v is not None}
        filters = report_filters_parse(params)
        if filters.since and filters.until_before and filters.since >= filters.until_before:
            continue
        where, sql_params = filters_sql(filters)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT r.id FROM issues_report r WHERE {where}", sql_params)
            by_map = {row[0] for row in cursor.fetchall()}
        by_list = set(
            report_filters_apply(qs=Report.objects.all(), filters=filters).values_list("id", flat=True)
        )
        if filters.statuses is None:  # the map shows the open ones unless asked
            by_list = set(
                report_filters_apply(
                    qs=Report.objects.filter(
                        status__in=report_filters_parse({"status": "open"}).statuses or ()
                    ),
                    filters=filters,
                ).values_list("id", flat=True)
            )
        assert by_map == by_list, params


def test_a_browser_that_accepts_gzip_gets_the_same_cells_in_fewer_bytes(city, spread_reports, client):
    import gzip

    plain = client.get("/api/heatmap/", {"zoom": 12})
    zipped = client.get("/api/heatmap/", {"zoom": 12}, headers={"Accept-Encoding": "gzip"})
    assert plain.status_code == zipped.status_code == 200
    assert "Content-Encoding" not in plain and zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    assert len(zipped.content) < len(plain.content)
    # A proxy keeps the two apart, and the cached copy's validator still answers 304.
    assert "Accept-Encoding" in zipped["Vary"]
    again = client.get(
        "/api/heatmap/", {"zoom": 12}, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped["ETag"]}
    )
    assert again.status_code == 304


def test_the_open_reports_heatmap_reads_the_open_reports_index(city, spread_reports):
    """The map's default (open reports) reads the partial index of the open reports (its statuses
    written as constants, see OPEN_STATUS_SQL); other statuses cannot."""
    from django.db import connection

    from issues.filters import ReportFilters

    for statuses, uses_open_index in ((None, True), (frozenset({"closed"}), False)):
        where, params = filters_sql(ReportFilters(statuses=statuses), with_bbox=False, open_index=True)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(
                f"EXPLAIN SELECT count(*) FROM issues_report r WHERE r.cell_key BETWEEN 0 AND 1 << 60 AND {where}",
                params,
            )
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert ("report_open_cell_key" in plan) is uses_open_index, plan
