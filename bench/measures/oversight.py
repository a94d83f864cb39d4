"""The public oversight map at a city's scale: vector tiles over Qazvin and the whole-city heatmap,
on the archive of 1,000,000 reports (bench/archive.py), each against the plain way of doing the
same (the set-up of each is in its docstring, which docs/benchmarks.md shows).

Every side runs in this process: the project through Django's test client (URL routing, the view,
the filters, the query, the answer), the references on a prepared psycopg statement with JIT off
(as the project runs its map queries), so the figures compare the work, not two servers."""

from __future__ import annotations

import gzip
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.archive import archive_ensure
from bench.db import archive_size
from bench.registry import Result, measure, ratio_result, say
from bench.timing import gc_paused

ARCHIVE_SIZE = archive_size()
# Qazvin's centre; the tile mix is drawn around it.
QAZVIN = (50.0, 36.27)
PLACES = 20
PLACE_RADIUS_M = 8000.0
ZOOMS = range(10, 18)
TILE_ROUNDS = 3
TILE_MAX_BYTES = 250_000
HEATMAP_ROUNDS = 7
# A screen 1280 px wide: the heatmap's zoom is the largest at which the city fits five 256 px tiles.
TILES_ACROSS = 5
TILE_EXTENT = 4096
TILE_BUFFER = 64

# The bare ST_AsMVT of a tile: the open reports whose point is in the tile (and its buffer), found by
# the location's GiST index, each encoded with the same public properties as the project's tiles.
BARE_TILE_SQL = f"""
    SELECT ST_AsMVT(f, 'reports', {TILE_EXTENT}, 'geom') FROM (
      SELECT ST_AsMVTGeom(ST_Transform(r.location, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s),
                          {TILE_EXTENT}, {TILE_BUFFER}, true) AS geom,
             r.tracking_code AS code, c.code AS category, r.status,
             to_char(r.created_at AT TIME ZONE %(tz)s, 'YYYY-MM-DD') AS created
        FROM issues_report r JOIN issues_category c ON c.id = r.category_id
       WHERE r.location && ST_Transform(
               ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => {TILE_BUFFER / TILE_EXTENT}), 4326)
         AND r.status = ANY(%(statuses)s)) f"""

# On-the-fly binning: PostGIS's hexagon grid over the box (in Web Mercator, hexagons of the area of
# the project's square cells), each hexagon's open reports found by the GiST index and counted, the
# non-empty ones answered as GeoJSON polygons with their count, as the heatmap answers.
HEXAGON_SQL = """
    SELECT json_build_object('type', 'FeatureCollection', 'count', COALESCE(sum(b.n), 0),
             'features', COALESCE(json_agg(json_build_object('type', 'Feature',
                 'geometry', ST_AsGeoJSON(b.geom, 7)::json, 'properties', json_build_object('count', b.n))), '[]'))::text
      FROM (SELECT h.geom, count(*) AS n
              FROM (SELECT ST_Transform(g.geom, 4326) AS geom FROM ST_HexagonGrid(
                      %(side)s, ST_Transform(ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326), 3857)) AS g) AS h
              JOIN issues_report r ON r.location && h.geom AND ST_Intersects(h.geom, r.location)
             WHERE r.status = ANY(%(statuses)s)
               AND r.location @ ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326)
             GROUP BY h.geom) AS b"""


def _p(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(percent / 100 * (len(ordered) - 1))))]


def _bare_connection() -> Any:
    import psycopg

    from bench.db import libpq_url

    conn = psycopg.connect(libpq_url(), autocommit=True)
    conn.execute("SET jit = off")
    return conn


def _open_statuses() -> list[str]:
    from issues.models import OPEN_STATUSES

    return sorted(str(s) for s in OPEN_STATUSES)


def _tile_mix() -> list[tuple[int, int, int]]:
    """20 places within 8 km of Qazvin's centre (seeded), the tile of each at z10 to z17: what a
    map panned and zoomed over the city asks for. Duplicates (two places in one z10 tile) kept: a
    map asks for such tiles more often."""
    import random

    from geo import tiles as t

    rng = random.Random(137)
    tiles = []
    for _ in range(PLACES):
        angle, distance = rng.uniform(0, 2 * math.pi), PLACE_RADIUS_M * math.sqrt(rng.random())
        lon = QAZVIN[0] + distance * math.cos(angle) / (111_320 * math.cos(math.radians(QAZVIN[1])))
        lat = QAZVIN[1] + distance * math.sin(angle) / 110_950
        for z in ZOOMS:
            x = math.floor(t.lon_to_fx(lon)) >> (t.CELL_LEVEL - z)
            y = math.floor(t.lat_to_fy(lat)) >> (t.CELL_LEVEL - z)
            tiles.append((z, x, y))
    return tiles


def _alternate(
    sides: dict[str, Callable[[Any], object]], items: list[Any], rounds: int
) -> dict[str, list[float]]:
    """Seconds of each call of each side, the sides taking turns on every item (order rotating)."""
    names = list(sides)
    for item in items:  # warm-up: caches, prepared statements
        for name in names:
            sides[name](item)
    samples: dict[str, list[float]] = {name: [] for name in names}
    with gc_paused():
        for round_ in range(rounds):
            for index, item in enumerate(items):
                shift = (index + round_) % len(names)
                for name in names[shift:] + names[:shift]:
                    started = time.perf_counter()
                    sides[name](item)
                    samples[name].append(time.perf_counter() - started)
    return samples


_TILE_CACHE: dict[str, Any] = {}


def _tiles_measured() -> dict[str, Any]:
    """Both sides over the mix, once for `tiles_mix` and `tile_max_bytes` (run together or apart)."""
    if _TILE_CACHE:
        return _TILE_CACHE
    from django.conf import settings
    from django.test import Client

    from issues.filters import ReportFilters
    from issues.oversight.tiles import report_tile_mvt

    archive = archive_ensure(ARCHIVE_SIZE)
    tiles = _tile_mix()
    client = Client()
    sizes: dict[tuple[int, int, int], int] = {}
    bare_sizes: dict[tuple[int, int, int], int] = {}
    statuses = _open_statuses()
    conn = _bare_connection()

    def ours(tile: tuple[int, int, int]) -> None:
        z, x, y = tile
        response = client.get(f"/tiles/reports/{z}/{x}/{y}.mvt")
        if response.status_code not in (200, 204):
            raise RuntimeError(f"tile {tile}: {response.status_code}")
        sizes[tile] = len(response.content)

    def selector(tile: tuple[int, int, int]) -> None:
        z, x, y = tile
        report_tile_mvt(z=z, x=x, y=y, filters=ReportFilters())

    def bare(tile: tuple[int, int, int]) -> None:
        z, x, y = tile
        row = conn.execute(
            BARE_TILE_SQL,
            {"z": z, "x": x, "y": y, "tz": settings.TIME_ZONE, "statuses": statuses},
            prepare=True,
        ).fetchone()
        bare_sizes[tile] = len(row[0] or b"")

    say("tiles_mix", f"{archive.n:,} reports; {len(tiles)} tiles (z10..z17 at {PLACES} places); timing")
    try:
        samples = _alternate({"ours": ours, "selector": selector, "bare": bare}, tiles, TILE_ROUNDS)
    finally:
        conn.close()

    def by_zoom(side: str) -> dict[int, float]:
        zooms = [z for z, _, _ in tiles] * TILE_ROUNDS
        return {
            z: statistics.median([s for s, sz in zip(samples[side], zooms, strict=True) if sz == z])
            for z in ZOOMS
        }

    ours_by_zoom, bare_by_zoom = by_zoom("ours"), by_zoom("bare")
    say(
        "tiles_mix",
        "median by zoom, ours / bare (ms): "
        + ", ".join(f"z{z} {ours_by_zoom[z] * 1000:.1f}/{bare_by_zoom[z] * 1000:.1f}" for z in ZOOMS),
    )
    _TILE_CACHE.update(archive=archive, samples=samples, sizes=sizes, bare_sizes=bare_sizes, tiles=tiles)
    return _TILE_CACHE


@measure("tiles_mix")
def tiles_mix() -> list[Result]:
    """Vector tiles over Qazvin: `GET /tiles/reports/{z}/{x}/{y}.mvt` (the open reports, the map's
    default) for 160 tiles, the tile of each of 20 seeded places within 8 km of the centre at every
    zoom from 10 to 17, over the archive of 1,000,000 reports (bench/archive.py), through Django's
    test client (routing, the view, the filters, the query, ETag), against the bare `ST_AsMVT` query
    for the same tile: the open reports in the tile and its buffer found by the GiST index, encoded
    with the same public properties (prepared psycopg statement, JIT off). The sides take turns on
    every tile, 3 rounds after a warm-up round.

    Rows: `tiles_mix`, p95 of the project against p95 of the bare query (target: within 1.5×);
    `tiles_mix_p50`, the same at the median; `tiles_mix_view`, p95 through the client against p95 of
    the project's own selector called directly (`report_tile_mvt`: the overhead of the HTTP layer,
    target within 1.5×). Below z14 the project's tiles are counts per cell read from the cell key's
    index while the bare query encodes every point; from z14 both send single reports, found by the
    same GiST index. The archive's table is vacuumed first when it is not (bench/archive.py), as
    autovacuum keeps a city's."""
    data = _tiles_measured()
    samples, archive = data["samples"], data["archive"]
    ours_p95, bare_p95 = _p(samples["ours"], 95) * 1000, _p(samples["bare"], 95) * 1000
    ours_p50, bare_p50 = _p(samples["ours"], 50) * 1000, _p(samples["bare"], 50) * 1000
    selector_p95 = _p(samples["selector"], 95) * 1000
    say(
        "tiles_mix",
        f"p50 {ours_p50:.1f} vs {bare_p50:.1f} ms; p95 {ours_p95:.1f} vs {bare_p95:.1f} ms; selector p95 {selector_p95:.1f} ms",
    )
    reference = (
        f"bare ST_AsMVT of the same {len(data['tiles'])} tiles (GiST, prepared), {archive.n:,} reports"
    )
    return [
        ratio_result(
            name="tiles_mix",
            value=ours_p95,
            unit="ms p95",
            reference=reference,
            reference_value=bare_p95,
            max_ratio=1.5,
            digits=2,
        ),
        ratio_result(
            name="tiles_mix_p50",
            value=ours_p50,
            unit="ms p50",
            reference=reference,
            reference_value=bare_p50,
            max_ratio=1.5,
            digits=2,
        ),
        ratio_result(
            name="tiles_mix_view",
            value=ours_p95,
            unit="ms p95",
            reference="the project's selector report_tile_mvt called directly (no HTTP layer)",
            reference_value=selector_p95,
            max_ratio=1.5,
            digits=2,
        ),
    ]


@measure("tile_max_bytes")
def tile_max_bytes() -> list[Result]:
    """The largest tile of `tiles_mix`'s 160 tiles (z10 to z17 over Qazvin, open reports, the
    archive of 1,000,000 reports), in bytes as sent, against 250,000 bytes (target: under it). The
    bare `ST_AsMVT` query's largest tile over the same mix is printed for comparison."""
    data = _tiles_measured()
    largest = max(data["sizes"].values())
    tile = max(data["sizes"], key=data["sizes"].get)
    bare_largest = max(data["bare_sizes"].values())
    say(
        "tile_max_bytes",
        f"largest {largest:,} bytes (tile {tile}); bare ST_AsMVT's largest {bare_largest:,} bytes",
    )
    return [
        ratio_result(
            name="tile_max_bytes",
            value=largest,
            unit="bytes",
            reference=f"limit {TILE_MAX_BYTES:,} bytes (bare ST_AsMVT's largest: {bare_largest:,})",
            reference_value=TILE_MAX_BYTES,
            max_ratio=1.0,
            digits=0,
        )
    ]


_HEAT_CACHE: dict[str, Any] = {}


def _city_heatmap() -> dict[str, Any]:
    """The whole city's heatmap request: its box, zoom, URL, the project's answer, and the
    hexagons' parameters (both heatmap measures use it; made once per run)."""
    if _HEAT_CACHE:
        return _HEAT_CACHE
    import orjson
    from django.test import Client

    from issues.oversight.exports import city_extent
    from issues.oversight.heatmap import heatmap_level

    archive = archive_ensure(ARCHIVE_SIZE)
    west, south, east, north = (float(f"{v:.6f}") for v in city_extent() or (48.7, 34.8, 53.2, 36.9))
    span = max(east - west, (north - south) * 1.25)
    zoom = max(0, min(15, math.floor(math.log2(360 * TILES_ACROSS / span))))
    level = heatmap_level(zoom=zoom)
    url = f"/api/heatmap/?zoom={zoom}&bbox={west},{south},{east},{north}"
    client = Client()
    first = client.get(url)
    if first.status_code != 200:
        raise RuntimeError(f"GET {url}: {first.status_code} {first.content[:300]!r}")
    body = orjson.loads(first.content)
    # A hexagon of the area of a square cell of the grid (Web Mercator metres).
    cell_side = 40_075_016.685578 / (1 << level)
    hex_side = cell_side * math.sqrt(2 / (3 * math.sqrt(3)))
    params = {"side": hex_side, "w": west, "s": south, "e": east, "n": north, "statuses": _open_statuses()}
    say(
        "heatmap",
        f"{archive.n:,} reports; box {west},{south},{east},{north}, zoom {zoom} (cells of level {level}); "
        f"{body['count']:,} open reports in {len(body['features']):,} cells",
    )
    _HEAT_CACHE.update(
        archive=archive,
        zoom=zoom,
        bbox=(west, south, east, north),
        url=url,
        client=client,
        body=first.content,
        count=body["count"],
        params=params,
    )
    return _HEAT_CACHE


@measure("heatmap_city_time")
def heatmap_city_time() -> list[Result]:
    """The whole city's heatmap: `GET /api/heatmap/?zoom=Z&bbox=<the city's districts' extent>`
    (the open reports, the map's default; Z the largest zoom at which the city fits a 1280 px
    screen), over the archive of 1,000,000 reports, through Django's test client, against binning
    the same reports on the fly with PostGIS's `ST_HexagonGrid` (hexagons of the area of the
    project's cells, each hexagon's reports found by the GiST index and counted, the non-empty ones
    answered as GeoJSON; prepared psycopg statement, JIT off). The two take turns, 7 times each
    after a warm-up; median of each.

    Row: `heatmap_city_time`, the project's median against the hexagons' (target: at most 0.1, ten
    times faster)."""
    import orjson

    data = _city_heatmap()
    client, url, params = data["client"], data["url"], data["params"]
    conn = _bare_connection()
    hexagons: dict[str, Any] = {}

    def project(_: object) -> None:
        if client.get(url).status_code != 200:
            raise RuntimeError(f"GET {url} failed")

    def bare_sql(_: object) -> None:
        hexagons["body"] = conn.execute(HEXAGON_SQL, params, prepare=True).fetchone()[0]

    say("heatmap_city_time", "timing")
    try:
        samples = _alternate({"ours": project, "bare": bare_sql}, [None], HEATMAP_ROUNDS)
    finally:
        conn.close()
    hexagon_body = orjson.loads(hexagons["body"])
    say(
        "heatmap_city_time",
        f"hexagons: {len(hexagon_body['features']):,} cells holding {hexagon_body['count']:,} reports "
        "(a point on an edge shared by two hexagons would count in both)",
    )
    ours = statistics.median(samples["ours"]) * 1000
    bare = statistics.median(samples["bare"]) * 1000
    say("heatmap_city_time", f"median {ours:.0f} ms vs hexagons {bare:.0f} ms ({bare / ours:.1f}x)")
    return [
        ratio_result(
            name="heatmap_city_time",
            value=ours,
            unit="ms",
            reference=f"ST_HexagonGrid binning of the same {data['count']:,} reports on the fly",
            reference_value=bare,
            max_ratio=0.1,
            digits=1,
        )
    ]


@measure("heatmap_city_bytes")
def heatmap_city_bytes() -> list[Result]:
    """The whole city's heatmap in bytes on the wire: the answer of `heatmap_city_time`'s request
    (the open reports; GeoJSON cell polygons with counts) as the app sends it to a browser (gzip,
    `Accept-Encoding: gzip`), against a folium `HeatMap` of the raw points of the same reports (the
    HTML file folium writes, which holds every point's coordinates; built for all of them, not a
    sample) as a web server would send that file, gzip level 6. Both uncompressed sizes are printed
    too. The same for every report of the archive (`status=open,closed`,
    the million points of a folium heatmap of ten years). The offline export of the open reports'
    heatmap (`manage.py export_map --kind heatmap`, Leaflet and the district outlines inlined) is
    printed for comparison.

    Rows: `heatmap_city_bytes` (the open reports) and `heatmap_city_bytes_all` (every report), the
    project's bytes against folium's (target: at most 0.02, fifty times fewer). The archive spreads
    its reports evenly over the province, so almost every cell holds some: the fewest points per
    cell a city could have, the hardest case for this ratio."""
    import folium
    from django.db import connection
    from folium.plugins import HeatMap

    from issues.filters import ReportFilters
    from issues.models import ReportStatus
    from issues.oversight.exports import map_export_html

    data = _city_heatmap()
    west, south, east, north = data["bbox"]

    def folium_bytes(statuses: list[str]) -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT ST_Y(r.location), ST_X(r.location) FROM issues_report r
                    WHERE r.status = ANY(%s) AND r.location @ ST_MakeEnvelope(%s, %s, %s, %s, 4326)""",
                [statuses, west, south, east, north],
            )
            points = [[round(lat, 6), round(lon, 6)] for lat, lon in cursor.fetchall()]
        started = time.perf_counter()
        fmap = folium.Map(location=[(south + north) / 2, (west + east) / 2], zoom_start=data["zoom"])
        HeatMap(points).add_to(fmap)
        html = fmap.get_root().render().encode()
        size = len(gzip.compress(html, compresslevel=6))
        say(
            "heatmap_city_bytes",
            f"folium HeatMap of {len(points):,} points: {len(html):,} bytes, {size:,} gzipped, "
            f"in {time.perf_counter() - started:.1f} s",
        )
        return size, len(points)

    rows = []
    for name, status in (("heatmap_city_bytes", None), ("heatmap_city_bytes_all", "open,closed")):
        url = data["url"] if status is None else data["url"] + f"&status={status}"
        statuses = _open_statuses() if status is None else list(ReportStatus.values)
        response = data["client"].get(url, headers={"Accept-Encoding": "gzip"})
        if response.status_code != 200 or response.get("Content-Encoding") != "gzip":
            raise RuntimeError(f"heatmap {url}: {response.status_code}, {response.get('Content-Encoding')}")
        sent = len(response.content)
        plain = len(gzip.decompress(response.content))
        reference, points = folium_bytes(statuses)
        say(name, f"/api/heatmap/ {sent:,} bytes sent ({plain:,} unzipped); {reference / sent:.0f}x fewer")
        rows.append(
            ratio_result(
                name=name,
                value=sent,
                unit="bytes",
                reference=f"folium HeatMap of the {points:,} raw points, both gzipped",
                reference_value=reference,
                max_ratio=0.02,
                digits=0,
            )
        )
    export = len(map_export_html(kind="heatmap", filters=ReportFilters()).encode())
    say("heatmap_city_bytes", f"offline export of the open reports' heatmap: {export:,} bytes")
    return rows
