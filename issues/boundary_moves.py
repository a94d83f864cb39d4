"""What a boundary change would do to the open reports: counted for the boundary import's dry run.

Found by `districts.changes.changed_area_moves` (districts import nothing of issues): importing this
module registers the counter.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from districts.changes import CHANGED_AREA_TABLE, DistrictMove, move_counter_register, routed_code_sql
from issues.models import OPEN_STATUSES

# The open reports within the routing tolerance of the changed area (found through their spatial
# index, a probe per piece, alone in its step: see issues.services.reroute), each routed in the old set and in the new one as routing would; those
# whose district differs, counted by (before, after). Outside the changed area nothing routing reads
# differs, so no other report can move.
OPEN_REPORT_MOVES_SQL = f"""
WITH probed AS MATERIALIZED (
  SELECT r.id, r.location, r.status
    FROM {CHANGED_AREA_TABLE} c
    JOIN issues_report r ON ST_DWithin(c.geom, r.location, c.tolerance_deg)
   WHERE c.old_set_id = %(old)s AND c.new_set_id = %(new)s),
near AS (SELECT DISTINCT id, location FROM probed WHERE status = ANY(%(open)s)),
routed AS (
  SELECT {routed_code_sql(boundary_set="%(old)s", point="near.location")} AS before,
         {routed_code_sql(boundary_set="%(new)s", point="near.location")} AS after
    FROM near)
SELECT before, after, count(*) FROM routed
 WHERE before IS DISTINCT FROM after
 GROUP BY before, after
 ORDER BY 3 DESC, 1, 2"""


def open_report_moves(old_set_id: int, new_set_id: int) -> list[DistrictMove]:
    """The open reports whose district changes from `old_set_id`'s routing to `new_set_id`'s."""
    with connection.cursor() as cursor:
        cursor.execute(
            OPEN_REPORT_MOVES_SQL,
            {
                "old": old_set_id,
                "new": new_set_id,
                "open": sorted(OPEN_STATUSES),
                "tolerance_m": float(settings.OPEN137_ROUTING_TOLERANCE_M),
            },
        )
        return [DistrictMove(before, after, int(n)) for before, after, n in cursor.fetchall()]


move_counter_register("open reports", open_report_moves)
