"""The heatmap: how many reports fall in each cell of a grid sized to the map's zoom, counted in the
database from the reports' cell keys (never a cloud of points sent to the browser).

The grid is the Web Mercator tile grid at zoom `zoom + OPEN137_HEATMAP_CELL_LEVELS` (square cells
on the map, 16 x 16 a tile by default), so a cell is the report's cell key shifted right: the
counting is a GROUP BY on an integer, from the key's index. Every matching report with a location
is in exactly one cell, so the cells sum to the number of matching reports.

With a box, the key ranges of the box come from a quadtree (geo.tiles.bbox_key_ranges): the reports
of the cells wholly inside it are counted from the index alone; those of the cells across its edge
are read with their point, tested against the box exactly as `/api/reports/` tests it (`@`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from geo.tiles import CELL_LEVEL, bbox_key_ranges, cell_bounds_lonlat, cell_xy
from issues.filters import ReportFilters
from issues.oversight.sql import BBOX_SQL, filters_sql, map_query_row, oversight_settings
from open137.db import sql_substituted

# The counts per cell, as two arrays in cell order (one row, so one prepared statement answers), and
# how many cells there are, at most one past the limit: past it the answer is refused, not cut.
# `{counts}` gives (cell, n) rows, a cell maybe more than once.
_CELLS_OF = """
    SELECT count(*), array_agg(g.cell ORDER BY g.cell), array_agg(g.n ORDER BY g.cell)
      FROM (SELECT c.cell, sum(c.n)::bigint AS n FROM ({counts}) AS c
             GROUP BY 1
             LIMIT %(max_cells)s + 1) AS g"""

# The key ranges wholly inside the box (without a box, one range of every key), one index range scan
# each, counted per range: a LATERAL aggregate, so the planner keeps to the ranges (for the whole
# range too: asked for `cell_key IS NOT NULL` it read the table rather than the index) and only
# counts come up ...
INSIDE_COUNTS_SQL = """
    SELECT i.cell, i.n FROM unnest(%(lo)s::int8[], %(hi)s::int8[]) AS k(lo, hi)
     CROSS JOIN LATERAL (SELECT r.cell_key >> %(shift)s AS cell, count(*) AS n FROM issues_report r
                          WHERE r.cell_key BETWEEN k.lo AND k.hi AND {where} GROUP BY 1) AS i"""
# ... and the cells across its edge, their points tested against the box outside the fence: inside
# it, the planner would answer the box from the GiST index of the whole table instead.
BORDER_COUNTS_SQL = f"""
    SELECT b.cell_key >> %(shift)s, 1 FROM unnest(%(blo)s::int8[], %(bhi)s::int8[]) AS k(lo, hi)
     CROSS JOIN LATERAL (SELECT r.cell_key, r.location FROM issues_report r
                          WHERE r.cell_key BETWEEN k.lo AND k.hi AND {{where}} OFFSET 0) AS b
     WHERE {sql_substituted(BBOX_SQL, "r.location", "b.location")}"""
BOX_COUNTS_SQL = f"{INSIDE_COUNTS_SQL}\n     UNION ALL{BORDER_COUNTS_SQL}"


class HeatmapTooLarge(ValueError):
    """More cells than OPEN137_HEATMAP_MAX_CELLS: a lower zoom or a smaller box is needed."""

    def __init__(self, max_cells: int) -> None:
        super().__init__(max_cells)
        self.max_cells = max_cells


@dataclass(frozen=True)
class HeatmapCells:
    zoom: int
    # The grid's level (a tile zoom); a cell is (x, y) at this level.
    level: int
    # (x, y, count) of every cell holding a matching report, in key order.
    cells: list[tuple[int, int, int]]

    @property
    def total(self) -> int:
        return sum(n for _, _, n in self.cells)


def heatmap_level(*, zoom: int) -> int:
    """The grid level of a heatmap at `zoom`."""
    return min(zoom + oversight_settings().heatmap_cell_levels, CELL_LEVEL)


def report_heatmap_cells(
    *, bbox: tuple[float, float, float, float] | None, zoom: int, filters: ReportFilters
) -> HeatmapCells:
    """The matching reports counted per grid cell (filters as `/api/reports/`, status the open ones
    unless given; `bbox` in degrees, None for every located report, else it replaces the filters'
    own). HeatmapTooLarge when more than OPEN137_HEATMAP_MAX_CELLS cells hold reports."""
    config = oversight_settings()
    level = heatmap_level(zoom=zoom)
    if bbox is not None:
        filters = replace(filters, bbox=bbox)
    where, params = filters_sql(filters, with_bbox=False, open_index=True)
    params.update(shift=2 * (CELL_LEVEL - level), max_cells=config.heatmap_max_cells)
    inside: tuple[tuple[int, int], ...]
    border: tuple[tuple[int, int], ...]
    if filters.bbox is None:
        # Every located report: the whole key range, one pass over the index.
        inside, border = ((0, (1 << (2 * CELL_LEVEL)) - 1),), ()
    else:
        ranges = bbox_key_ranges(filters.bbox)
        inside, border = ranges.inside, ranges.border
    params.update(
        lo=[low for low, _ in inside],
        hi=[high for _, high in inside],
        blo=[low for low, _ in border],
        bhi=[high for _, high in border],
    )
    counts_sql = BOX_COUNTS_SQL if border else INSIDE_COUNTS_SQL
    row = map_query_row(_CELLS_OF.format(counts=counts_sql.format(where=where)), params)
    count, keys, counts = row if row is not None else (0, None, None)
    if count > config.heatmap_max_cells:
        raise HeatmapTooLarge(config.heatmap_max_cells)
    cells = [(*cell_xy(key), n) for key, n in zip(keys or (), counts or (), strict=True)]
    return HeatmapCells(zoom=zoom, level=level, cells=cells)


def heatmap_geojson(heatmap: HeatmapCells) -> dict[str, object]:
    """The cells as a GeoJSON FeatureCollection: each a square polygon (lon/lat, the cell's corners
    in Web Mercator) with its `count`; `count`, `zoom` and `cell_level` at the top."""
    features = []
    level = heatmap.level
    for x, y, n in heatmap.cells:
        west, south, east, north = (round(v, 7) for v in cell_bounds_lonlat(level, x, y))
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[west, south], [east, south], [east, north], [west, north], [west, south]]
                    ],
                },
                "properties": {"count": n},
            }
        )
    return {
        "type": "FeatureCollection",
        "zoom": heatmap.zoom,
        "cell_level": level,
        "count": heatmap.total,
        "features": features,
    }
