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

Reports are found by their cell key (geo/tiles.py): a tile is one contiguous range of keys, its
buffer a few more, and a count is a GROUP BY on the key shifted to the cell's level. The filters
read columns the key's index carries, so the count layer is read from the index alone.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from geo.tiles import CELL_LEVEL, Tile, cell_key_range, merged_ranges, rect_key_ranges
from issues.filters import ReportFilters
from issues.oversight.sql import OversightSettings, filters_sql, map_query_row, oversight_settings

# Tile coordinates run from 0 to TILE_EXTENT a side (ST_AsMVT's default, what every client reads).
TILE_EXTENT = 4096

# The reports of a list of cell key ranges: one index range scan per range, in key order. The
# LATERAL subquery behind OFFSET 0 keeps it so: flattened, the planner (which cannot know what the
# ranges hold) may prefer one scan of the whole table, or push the geometry work of the outer query
# down into the scan. `{columns}` of the report row `r`, `{where}` the filters (oversight.sql).
_RANGE_ROWS = """unnest(%({lo})s::int8[], %({hi})s::int8[]) AS k(lo, hi)
               CROSS JOIN LATERAL (
                 SELECT {columns} FROM issues_report r
                  WHERE r.cell_key BETWEEN k.lo AND k.hi AND {where} OFFSET 0) AS h"""
# The tile's own cells (and the ring around it): lo, hi. The tile with its buffer: blo, bhi.
_CELL_ROWS = _RANGE_ROWS.replace("{lo}", "lo").replace("{hi}", "hi").replace("{columns}", "r.cell_key")
_BUFFER_ROWS = _RANGE_ROWS.replace("{lo}", "blo").replace("{hi}", "bhi")

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

# Single reports with their public columns, named here one by one: never a contact detail or a
# token. ST_AsMVTGeom makes the points beyond the buffer (the last key ranges reach a little past
# it) NULL, and ST_AsMVT leaves those out. Ordered, so the same reports make the same bytes (and the
# same ETag).
_PUBLIC_COLUMNS = "r.cell_key, r.location, r.tracking_code, r.category_id, r.status, r.created_at"
REPORTS_MVT_SQL = f"""
    SELECT ST_AsMVT(f, 'reports', {TILE_EXTENT}, 'geom') FROM (
      SELECT ST_AsMVTGeom(ST_Transform(h.location, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s),
                          {TILE_EXTENT}, %(buffer)s, true) AS geom,
             h.tracking_code AS code, c.code AS category, h.status,
             to_char(h.created_at AT TIME ZONE %(time_zone)s, 'YYYY-MM-DD') AS created
        FROM {_BUFFER_ROWS.replace("{columns}", _PUBLIC_COLUMNS)}
        JOIN issues_category c ON c.id = h.category_id
       ORDER BY h.cell_key, h.tracking_code) f"""

# From the detail zoom: the reports of the buffered tile are counted first, from the index, at most
# one past the limit; the tile is then single reports or, past the limit, counts. Each branch is a
# sub-plan, run only when chosen. Answers (counted past the limit, the tile).
DETAIL_MVT_SQL = f"""
    SELECT n.n > %(max_features)s,
           CASE WHEN n.n > %(max_features)s THEN ({CELLS_MVT_SQL}) ELSE ({REPORTS_MVT_SQL}) END
      FROM (SELECT count(*) AS n
              FROM (SELECT 1 FROM {_BUFFER_ROWS.replace("{columns}", "1")} LIMIT %(max_features)s + 1) AS capped
           ) AS n"""


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
    around it (each its own range; neighbours in key order merge)."""
    level = tile.z + levels
    cell_size = TILE_EXTENT >> levels
    cx0, cy0 = tile.x << levels, tile.y << levels
    ranges = [tile.key_range]
    if buffer * 2 >= cell_size:
        side, last = 1 << levels, (1 << level) - 1
        ring = [(cx, cy) for cx in range(cx0 - 1, cx0 + side + 1) for cy in (cy0 - 1, cy0 + side)]
        ring += [(cx, cy) for cx in (cx0 - 1, cx0 + side) for cy in range(cy0, cy0 + side)]
        ranges += [cell_key_range(level, cx, cy) for cx, cy in ring if 0 <= cx <= last and 0 <= cy <= last]
    lo, hi = _arrays(merged_ranges(ranges))
    return {
        "shift": 2 * (CELL_LEVEL - level),
        "cx0": cx0,
        "cy0": cy0,
        "cell_size": cell_size,
        "half": cell_size // 2,
        "lo": lo,
        "hi": hi,
    }


def _buffered_ranges(tile: Tile, *, buffer: int) -> list[tuple[int, int]]:
    """The key ranges of the tile and its buffer (a few past the buffer's edge, as whole cells)."""
    if buffer <= 0:
        return [tile.key_range]
    span = 1 << (CELL_LEVEL - tile.z)
    margin = buffer / TILE_EXTENT * span
    x0, y0 = tile.x * span, tile.y * span
    found = rect_key_ranges(x0 - margin, y0 - margin, x0 + span + margin, y0 + span + margin, margin=0)
    return list(merged_ranges([*found.inside, *found.border]))


def report_tile_mvt(*, z: int, x: int, y: int, filters: ReportFilters) -> bytes:
    """The public reports of tile z/x/y as a Mapbox Vector Tile (empty bytes: no report there).

    Filters as `/api/reports/` (status: the open ones unless given). The tile must exist
    (geo.tiles.tile_parse checks an address from outside)."""
    tile = Tile(z, x, y)
    config = oversight_settings()
    where, params = filters_sql(filters, for_tile=True)
    params.update(_cell_params(tile, levels=_count_levels(config, z), buffer=config.tile_buffer))
    if z < config.tile_detail_zoom:
        row = map_query_row(CELLS_MVT_SQL.format(where=where), params)
        return bytes(row[0]) if row and row[0] else b""
    blo, bhi = _arrays(_buffered_ranges(tile, buffer=config.tile_buffer))
    params.update(
        z=z,
        x=x,
        y=y,
        blo=blo,
        bhi=bhi,
        buffer=config.tile_buffer,
        max_features=config.tile_max_features,
        time_zone=settings.TIME_ZONE,
    )
    row = map_query_row(DETAIL_MVT_SQL.format(where=where), params)
    if row is None or not row[1]:
        return b""
    aggregated, data = row[0], bytes(row[1])
    if not aggregated and len(data) > config.tile_max_bytes:
        # Long codes of many categories: the reports fit the count but not the bytes.
        row = map_query_row(CELLS_MVT_SQL.format(where=where), params)
        data = bytes(row[0]) if row and row[0] else b""
    return data
