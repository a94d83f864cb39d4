"""The SQL of a staff inbox's page: named pieces, put together per filter and sent as a prepared
statement, as the routing SQL is (districts/selectors.py).

Every staff member opens the inbox many times a day, and the first page must cost what the bare
query does whatever the archive's size: the ORM's compilation and PostgreSQL's planning of a
nine-join query took three times the query itself. The pieces here mean exactly what the public
list's filters (issues.selectors.report_filters_apply) and the staff's own (issues.workflow.inbox)
mean, and the tests hold the two to the same answers. Each combination of filters is one statement
text, prepared once per connection.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from issues.filters import ReportFilters
from issues.models import OPEN_STATUSES, ReportStatus

AWAITING = [ReportStatus.RECEIVED, ReportStatus.FORWARDED, ReportStatus.TRANSFERRED, ReportStatus.REOPENED]

# The row a page shows, under the names the ORM's `.values()` gives them (issues.workflow.inbox
# STAFF_COLUMNS), with the point's coordinates and whether it is overdue.
SELECT = """
SELECT r.id, r.tracking_code, r.version, r.status, r.kind, r.channel, r.description, r.address,
       c.code AS category__code, c.name_fa AS category__name_fa, c.name_en AS category__name_en,
       d.code AS district__code, d.name_fa AS district__name_fa, d.name_en AS district__name_en,
       sa.code AS service_area__code, sa.unit_name_fa AS service_area__unit_name_fa,
       sa.unit_name_en AS service_area__unit_name_en, u.username AS assigned_to__username,
       r.support_count, r.generated, r.created_at, r.updated_at, r.acknowledge_due_at, r.expected_at{contacts},
       ST_X(r.location) AS lon, ST_Y(r.location) AS lat,
       COALESCE(r.status = ANY(%(open)s) AND (r.expected_at < now()
         OR (r.status = ANY(%(awaiting)s) AND r.acknowledge_due_at < now())), false) AS overdue
  FROM issues_report r
  JOIN issues_category c ON c.id = r.category_id
  LEFT JOIN districts_district d ON d.id = r.district_id
  LEFT JOIN districts_servicearea sa ON sa.id = r.service_area_id
  LEFT JOIN auth_user u ON u.id = r.assigned_to_id"""
CONTACTS = ", r.reporter_name, r.reporter_phone, r.reporter_email, r.consent_contact"

# Newest first, ties by id: the order the cursor continues from, served by the indexes
# (district, created_at, id) and (service_area, created_at, id) for managers and units.
ORDER = " ORDER BY r.created_at DESC, r.id DESC LIMIT %(limit)s"

# Scope (issues.workflow.scope): managers' districts and units' service areas as id lists; the
# kinds only supervisors handle kept from everyone else.
SCOPE_DISTRICTS = "r.district_id = ANY(%(scope_districts)s)"
SCOPE_UNITS = "r.service_area_id = ANY(%(scope_units)s)"
NOT_SUPERVISOR_KINDS = "NOT (r.kind = ANY(%(supervisor_kinds)s))"

# The public list's filters, same names, same meaning.
BBOX = "r.location @ ST_MakeEnvelope(%(min_lon)s, %(min_lat)s, %(max_lon)s, %(max_lat)s, 4326)"
STATUSES = "r.status = ANY(%(statuses)s)"
CATEGORIES = "c.code = ANY(%(categories)s)"
# A region takes in its sub-districts' reports.
DISTRICT = "(d.code = %(district)s OR EXISTS (SELECT 1 FROM districts_district dp WHERE dp.id = d.parent_id AND dp.code = %(district)s))"
KINDS = "r.kind = ANY(%(kinds)s)"
SINCE = "r.created_at >= %(since)s"
UNTIL = "r.created_at < %(until_before)s"
# `description_search` holds the normalised text; each word must occur in it (as `__contains`).
WORD = "strpos(r.description_search, %(word{i})s) > 0"

# The staff's own.
UNITS = "sa.code = ANY(%(units)s)"
TRIAGE = "r.service_area_id IS NULL"
MINE = "r.assigned_to_id = %(user_id)s"
OVERDUE = (
    "r.status = ANY(%(open)s) AND (r.expected_at < now() OR (r.status = ANY(%(awaiting)s)"
    " AND r.acknowledge_due_at < now()))"
)
# The cursor: strictly after the last row of the previous page in (created_at, id) order.
AFTER = "(r.created_at, r.id) < (%(after_at)s, %(after_id)s)"


def staff_page_sql(
    *,
    scope_districts: frozenset[int] | None,
    scope_units: frozenset[int] | None,
    supervisor_kinds: frozenset[str] | None,
    contacts: bool,
    base: ReportFilters,
    units: tuple[str, ...],
    triage: bool,
    mine_user_id: int | None,
    overdue: bool,
    after: tuple[datetime, int] | None,
    limit: int,
) -> tuple[str, dict[str, Any]]:
    """The statement and its parameters for one page."""
    where: list[str] = []
    params: dict[str, Any] = {
        "open": sorted(OPEN_STATUSES),
        "awaiting": [str(s) for s in AWAITING],
        "limit": limit,
    }
    if scope_districts is not None:
        where.append(SCOPE_DISTRICTS)
        params["scope_districts"] = sorted(scope_districts)
    if scope_units is not None:
        where.append(SCOPE_UNITS)
        params["scope_units"] = sorted(scope_units)
    if supervisor_kinds:
        where.append(NOT_SUPERVISOR_KINDS)
        params["supervisor_kinds"] = sorted(supervisor_kinds)
    if base.bbox is not None:
        where.append(BBOX)
        params.update(zip(("min_lon", "min_lat", "max_lon", "max_lat"), base.bbox, strict=True))
    if base.statuses is not None:
        where.append(STATUSES)
        params["statuses"] = sorted(base.statuses)
    if base.categories:
        where.append(CATEGORIES)
        params["categories"] = list(base.categories)
    if base.district:
        where.append(DISTRICT)
        params["district"] = base.district
    if base.kinds:
        where.append(KINDS)
        params["kinds"] = list(base.kinds)
    if base.since is not None:
        where.append(SINCE)
        params["since"] = base.since
    if base.until_before is not None:
        where.append(UNTIL)
        params["until_before"] = base.until_before
    for i, word in enumerate(base.words):
        where.append(WORD.format(i=i))
        params[f"word{i}"] = word
    if units:
        where.append(UNITS)
        params["units"] = list(units)
    if triage:
        where.append(TRIAGE)
    if mine_user_id is not None:
        where.append(MINE)
        params["user_id"] = mine_user_id
    if overdue:
        where.append(OVERDUE)
    if after is not None:
        where.append(AFTER)
        params["after_at"], params["after_id"] = after
    sql = SELECT.format(contacts=CONTACTS if contacts else "")
    if where:
        sql += "\n WHERE " + "\n   AND ".join(where)
    return sql + ORDER, params
