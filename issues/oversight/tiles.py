"""Vector tiles of the public reports (Mapbox Vector Tile, built by PostGIS's ST_AsMVT in one query).

A tile holds one of two layers:

- `cells`: counts. The tile is cut into 2^k x 2^k cells (k = OPEN137_TILE_CELL_LEVELS) and each
  cell with reports is a point at its centre with one property, `count`. Below
  OPEN137_TILE_DETAIL_ZOOM every tile is such. With the ring of cells in its buffer a count tile
  holds at most (2^k + 2)^2 features however many reports it counts (k is lowered if that could pass
  OPEN137_TILE_MAX_FEATURES).
- `reports`: one point per report, with `code` (the tracking code), `category` (its code),
  `status` and `created` (the day, in the city's time zone), nothing else: only public columns are
  selected, never the reporter's contact details or tokens. From the detail zoom, when the tile
  (with its buffer) holds at most OPEN137_TILE_MAX_FEATURES reports and comes to at most
  OPEN137_TILE_MAX_BYTES; a denser tile is sent as counts, so a map always shows every report.

Counts are read by cell key (geo/tiles.py): a tile is one contiguous range of keys, the ring of cells
around it a few more, and a count is a GROUP BY on the key shifted to the cell's level. The filters
read columns the key's index carries, and the map's default (the open reports) is read from the
open reports' own key index, a tenth of the entries. Single reports are found as a plain tile query
finds them, by the location's GiST index over the tile and its buffer: one index descent, where the
buffer's thin frame would be fifty key ranges.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from geo.srid import GEO_SRID
from geo.tiles import CELL_LEVEL, Tile, merged_ranges, ring_key_ranges, x_to_lon, y_to_lat
from issues.filters import ReportFilters
from issues.oversight.sql import OversightSettings, filters_sql, map_query_row, oversight_settings

# Tile coordinates run from 0 to TILE_EXTENT a side (ST_AsMVT's default, what every client reads).
TILE_EXTENT = 4096

# The reports of a list of cell key ranges: one index range scan per range, in key order. The
# LATERAL subquery behind OFFSET 0 keeps it so: flattened, the planner (which cannot know what the
# ranges hold) may prefer one scan of the whole table, or push the geometry work of the outer query
# down into the scan. `{where}` the filters (oversight.sql).
_CELL_ROWS = """unnest(%(lo)s::int8[], %(hi)s::int8[]) AS k(lo, hi)
               CROSS JOIN LATERAL (
                 SELECT r.cell_key FROM issues_report r
                  WHERE r.cell_key BETWEEN k.lo AND k.hi AND {where} OFFSET 0) AS h"""

# Counts per cell, each a point at its cell's centre in tile coordinates (y runs down, like the
# key's rows). A cell's column and row come back from its key by open137_cell_compact (a function of
# the migration); %(cx0)s, %(cy0)s are the tile's first cell.
CELLS_MVT_SQL = f"""
    SELECT ST_AsMVT(f, 'cells', {TILE_EXTENT}, 'geom') FROM (
      SELECT ST_MakePoint(((open137_cell_compact(c.cell) - %(cx0)s) * %(cell_size)s + %(half)s)::float8,
                          ((open137_cell_compact(c.cell >> 1) - %(cy0)s) * %(cell_size)s + %(half)s)::float8)
               AS geom,
             c.n AS count
        FROM (SELECT h.cell_key >> %(shift)s AS cell, count(*) AS n FROM {_CELL_ROWS} GROUP BY 1) c
       ORDER BY c.cell) f"""

# From the detail zoom: the reports in the tile and its buffer (its box in degrees, _buffered_box,
# found by the location's GiST index), at most one past the limit. Past it, nothing is encoded (the caller
# asks for counts); else each report with its public columns, named here one by one: never a contact
# detail or a token. Ordered, so the same reports make the same bytes (and the same ETag).
# Answers (counted past the limit, the tile).
_PUBLIC_COLUMNS = "r.cell_key, r.location, r.tracking_code, r.category_id, r.status, r.created_at"
DETAIL_MVT_SQL = f"""
    WITH h AS MATERIALIZED (
      SELECT {_PUBLIC_COLUMNS} FROM issues_report r
       WHERE r.location && ST_MakeEnvelope(%(west)s, %(south)s, %(east)s, %(north)s, {GEO_SRID})
         AND {{where}}
       LIMIT %(max_features)s + 1)
    SELECT n.n > %(max_features)s,
           CASE WHEN n.n > %(max_features)s THEN NULL ELSE (
             SELECT ST_AsMVT(f, 'reports', {TILE_EXTENT}, 'geom') FROM (
               SELECT ST_AsMVTGeom(ST_Transform(h.location, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s),
                                   {TILE_EXTENT}, %(buffer)s, true) AS geom,
                      h.tracking_code AS code, c.code AS category, h.status,
                      to_char(h.created_at AT TIME ZONE %(time_zone)s, 'YYYY-MM-DD') AS created
                 FROM h JOIN issues_category c ON c.id = h.category_id
                ORDER BY h.cell_key, h.tracking_code) f) END
      FROM (SELECT count(*) AS n FROM h) AS n"""


def _arrays(ranges: tuple[tuple[int, int], ...] | list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    return [low for low, _ in ranges], [high for _, high in ranges]


def _count_levels(config: OversightSettings, z: int) -> int:
    """How many times a count tile is halved into cells: the setting, fewer if the cells (and their
    ring) could be more than the feature limit, never past the finest level."""
    levels = min(config.tile_cell_levels, CELL_LEVEL - z)
    while levels > 0 and ((1 << levels) + 2) ** 2 > config.tile_max_features:
        levels -= 1
    return levels


def _cell_params(tile: Tile, *, levels: int, buffer: int) -> dict[str, Any]:
    """The count layer's parameters: the cell level, the tile's first cell, and the key ranges of the
    tile plus, when the buffer reaches the centres of the neighbouring cells, of the ring of cells
    around it (neighbours in key order merged)."""
    level = tile.z + levels
    cell_size = TILE_EXTENT >> levels
    ranges = [tile.key_range]
    if buffer * 2 >= cell_size:
        ranges += ring_key_ranges(tile, levels=levels)
    lo, hi = _arrays(merged_ranges(ranges))
    return {
        "shift": 2 * (CELL_LEVEL - level),
        "cx0": tile.x << levels,
        "cy0": tile.y << levels,
        "cell_size": cell_size,
        "half": cell_size // 2,
        "lo": lo,
        "hi": hi,
    }


def _buffered_box(tile: Tile, *, buffer: int) -> dict[str, float]:
    """The box of the tile and its buffer in degrees, cut at the antimeridian: PostGIS would wrap a
    box reaching past 180 degrees to the other side of the world, and then hold almost all of it.
    North and south are left past the Web Mercator square's edge, where nothing is drawn anyway."""
    margin = buffer / TILE_EXTENT
    return {
        "west": max(-180.0, x_to_lon(tile.x - margin, tile.z)),
        "east": min(180.0, x_to_lon(tile.x + 1 + margin, tile.z)),
        "north": y_to_lat(tile.y - margin, tile.z),
        "south": y_to_lat(tile.y + 1 + margin, tile.z),
    }


def _cells_mvt(tile: Tile, *, config: OversightSettings, filters: ReportFilters) -> bytes:
    """The count layer of a tile (empty bytes: no report there)."""
    where, params = filters_sql(filters, for_tile=True, open_index=True)
    params.update(_cell_params(tile, levels=_count_levels(config, tile.z), buffer=config.tile_buffer))
    row = map_query_row(CELLS_MVT_SQL.format(where=where), params)
    return bytes(row[0]) if row and row[0] else b""


def report_tile_mvt(*, z: int, x: int, y: int, filters: ReportFilters) -> bytes:
    """The public reports of tile z/x/y as a Mapbox Vector Tile (empty bytes: no report there).

    Filters as `/api/reports/` (status: the open ones unless given). The tile must exist
    (geo.tiles.tile_parse checks an address from outside)."""
    tile = Tile(z, x, y)
    config = oversight_settings()
    if z < config.tile_detail_zoom:
        return _cells_mvt(tile, config=config, filters=filters)
    where, params = filters_sql(filters, for_tile=True)
    params.update(
        z=z,
        x=x,
        y=y,
        **_buffered_box(tile, buffer=config.tile_buffer),
        buffer=config.tile_buffer,
        max_features=config.tile_max_features,
        time_zone=settings.TIME_ZONE,
    )
    row = map_query_row(DETAIL_MVT_SQL.format(where=where), params)
    if row is None:
        return b""
    aggregated, data = row[0], bytes(row[1] or b"")
    if aggregated or len(data) > config.tile_max_bytes:
        # Too many reports, or long codes of many categories: the reports fit the count but not
        # the bytes. Counts, then, from the key index.
        return _cells_mvt(tile, config=config, filters=filters)
    return data
