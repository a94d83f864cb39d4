"""What the tiles and the heatmap share: their settings, the filters of `/api/reports/` as SQL on
the report row `r`, and running a map query.

The filters mean exactly what `issues.selectors.report_filters_apply` makes of them for the list
(tests/test_heatmap.py compares the two on every filter), written as SQL pieces here because the
map queries are range scans on the cell key index that the ORM cannot write. Only the pieces of the
filters given are joined into a query, so each combination is its own statement, prepared once per
connection (open137.db.fetchone_prepared), with a plan made for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg.pq import TransactionStatus

from geo.srid import GEO_SRID
from issues.filters import ReportFilters
from issues.models import OPEN_STATUSES
from open137.db import fetchone_prepared


@dataclass(frozen=True)
class OversightSettings:
    # Below this zoom a tile holds counts per grid cell; from it, single reports (when not too many).
    tile_detail_zoom: int
    # A count tile is cut into 2^levels x 2^levels cells (5: 32 x 32, a cell 8 px on a 256 px tile).
    tile_cell_levels: int
    # At most this many single reports in one tile (its buffer included); more, and the tile holds
    # counts per cell instead, as at low zoom.
    tile_max_features: int
    # A tile of single reports larger than this is sent as counts per cell instead.
    tile_max_bytes: int
    # The margin around a tile, in tile units (4096 a side), whose reports it carries too, so a
    # symbol on the edge is drawn whole on both sides.
    tile_buffer: int
    # Cache-Control max-age of tiles and heatmaps (seconds): a proxy answers repeats meanwhile.
    max_age: int
    # A heatmap at zoom z counts in cells of zoom z + levels (4: 16 x 16 cells a 256 px tile).
    heatmap_cell_levels: int
    # A heatmap of more cells is refused (400): zoom out or ask for a smaller box.
    heatmap_max_cells: int


def oversight_settings() -> OversightSettings:
    """The settings (open137/settings.py reads them from the environment), with their defaults."""

    def get(name: str, default: int) -> int:
        return int(getattr(settings, name, default))

    return OversightSettings(
        tile_detail_zoom=get("OPEN137_TILE_DETAIL_ZOOM", 14),
        tile_cell_levels=get("OPEN137_TILE_CELL_LEVELS", 5),
        tile_max_features=get("OPEN137_TILE_MAX_FEATURES", 4000),
        tile_max_bytes=get("OPEN137_TILE_MAX_BYTES", 200_000),
        tile_buffer=get("OPEN137_TILE_BUFFER", 64),
        max_age=get("OPEN137_MAP_MAX_AGE", 60),
        heatmap_cell_levels=get("OPEN137_HEATMAP_CELL_LEVELS", 4),
        heatmap_max_cells=get("OPEN137_HEATMAP_MAX_CELLS", 10_000),
    )


# The map shows the problems still open unless asked otherwise (`status=open,closed` for every report).
DEFAULT_STATUSES = frozenset(str(s) for s in OPEN_STATUSES)

# --- The filters, one piece each, on the report row `r` -----------------------------------------
# Every piece reads a column of the cell key index (status, category, creation time, district) but
# kind, text and box, so the default map is answered from the index alone.

STATUS_SQL = "r.status = ANY(%(statuses)s::text[])"
# The open reports, written out as constants: a prepared statement's generic plan can then prove
# that the partial cell-key index of the open reports (report_open_cell_key, migration 0020) holds
# every row asked for, which it cannot for a parameter. A city's heatmap reads its tenth of the
# entries that are open instead of all of them.
OPEN_STATUS_SQL = "r.status IN ({})".format(", ".join(f"'{s}'" for s in sorted(DEFAULT_STATUSES)))
# A tile's status test, written so that no index can serve it: a tile finds its reports by place (the
# cell-key index, which carries the status and tests it on each entry of the tile's key ranges, or
# the location's GiST index), which is all a tile needs; offered the status index, the planner ANDed
# the two on every range, rereading a hundred thousand status entries each time (a z14 tile over
# Qazvin: 340 ms instead of 3 ms at a million reports).
TILE_STATUS_SQL = "(r.status || '') = ANY(%(statuses)s::text[])"
# A category by its code; inactive categories still name old reports. The ids are read once (an
# InitPlan), then each index row is compared with them.
CATEGORY_SQL = """r.category_id = ANY(ARRAY(
    SELECT c.id FROM issues_category c WHERE c.code = ANY(%(categories)s::text[])))"""
# Reports are routed to the deepest district: a region brings its sub-districts' too. By code, in
# every boundary set, as the list does (a report keeps the district row of the set it was routed in).
DISTRICT_SQL = """r.district_id = ANY(ARRAY(
    SELECT d.id FROM districts_district d LEFT JOIN districts_district p ON p.id = d.parent_id
     WHERE d.code = %(district)s OR p.code = %(district)s))"""
KIND_SQL = "r.kind = ANY(%(kinds)s::text[])"
SINCE_SQL = "r.created_at >= %(since)s"
UNTIL_SQL = "r.created_at < %(until_before)s"
# Every word is a substring of the normalised description (the list's `contains`, without LIKE's
# wildcards to escape).
WORDS_SQL = """NOT EXISTS (
    SELECT 1 FROM unnest(%(words)s::text[]) AS w(word) WHERE strpos(r.description_search, w.word) = 0)"""
# Containment (`@`), as the list: a point on the box's edge is inside.
BBOX_SQL = f"r.location @ ST_MakeEnvelope(%(min_lon)s, %(min_lat)s, %(max_lon)s, %(max_lat)s, {GEO_SRID})"


def filters_sql(
    filters: ReportFilters, *, with_bbox: bool = True, for_tile: bool = False, open_index: bool = False
) -> tuple[str, dict[str, Any]]:
    """The filters as `AND`-joined SQL on `r` (`true` when none) and its parameters. The status
    defaults to the open ones. Without `with_bbox` the box is left to the caller (its parameters are
    still given, for the caller's own test of it). `open_index`: the default (open) statuses as
    OPEN_STATUS_SQL, which the open reports' cell-key index answers. `for_tile`: other statuses (or
    all of them, without `open_index`) as TILE_STATUS_SQL."""
    if open_index and filters.statuses is None:
        status_piece = OPEN_STATUS_SQL
    elif for_tile:
        status_piece = TILE_STATUS_SQL
    else:
        status_piece = STATUS_SQL
    pieces = [status_piece]
    params: dict[str, Any] = {
        "statuses": sorted(filters.statuses if filters.statuses is not None else DEFAULT_STATUSES)
    }
    if filters.categories:
        pieces.append(CATEGORY_SQL)
        params["categories"] = list(filters.categories)
    if filters.district:
        pieces.append(DISTRICT_SQL)
        params["district"] = filters.district
    if filters.kinds:
        pieces.append(KIND_SQL)
        params["kinds"] = list(filters.kinds)
    if filters.since is not None:
        pieces.append(SINCE_SQL)
        params["since"] = filters.since
    if filters.until_before is not None:
        pieces.append(UNTIL_SQL)
        params["until_before"] = filters.until_before
    if filters.words:
        pieces.append(WORDS_SQL)
        params["words"] = list(filters.words)
    if filters.bbox is not None:
        params.update(zip(("min_lon", "min_lat", "max_lon", "max_lat"), filters.bbox, strict=True))
        if with_bbox:
            pieces.append(BBOX_SQL)
    return "\n       AND ".join(pieces), params


def map_query_row(sql: str, params: Mapping[str, Any]) -> tuple | None:
    """The first row of a map query, run as a prepared statement with PostgreSQL's JIT compiler off.

    The map queries walk a few hundred key ranges with a nested loop that the planner, not knowing
    the ranges, estimates at millions of rows: over jit_above_cost, each run would spend 100 ms and
    more compiling a plan that then runs in a few milliseconds. The app's connections start with JIT
    off (open137/settings.py), so the statement runs alone; on a connection where it is on (a pooler
    that drops startup options), it is turned off for this statement and put back after it (two
    short statements more)."""
    db = connections[DEFAULT_DB_ALIAS]
    db.ensure_connection()
    raw = db.connection
    if getattr(raw, "_open137_jit", None) == "off":
        return fetchone_prepared(sql, params)
    with db.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit'), set_config('jit', 'off', false)")
        saved = cursor.fetchone()[0]
        if saved == "off":
            raw._open137_jit = "off"  # type: ignore[attr-defined]
            return fetchone_prepared(sql, params)
        try:
            return fetchone_prepared(sql, params)
        finally:
            # In a transaction that the error aborted, its rollback puts the setting back.
            if raw.info.transaction_status != TransactionStatus.INERROR:
                cursor.execute("SELECT set_config('jit', %s, false)", [saved])
