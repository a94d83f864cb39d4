"""Who a member of staff is and which reports they may see: enforced in every staff query, page and
API through `reports_in_scope`, not only hidden in menus.

- 137 operators and supervisors: every report (supervisors alone see complaints about staff and
  dissatisfaction, and the triage queue's actions).
- A district manager: the reports routed to their districts, a region including its sub-districts.
  Districts are matched by code across boundary sets, so a new set keeps the manager's history.
- Unit staff: the reports of their service areas.
- Council members: numbers and maps, no report rows at all.
A report outside the scope is as if it did not exist (404), by the API and by the pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from issues.models import Report, Role
from issues.workflow.transitions import SUPERVISOR_ONLY_KINDS

# Roles that see the reporter's name, phone and e-mail: the 137 centre. Units and managers reach the
# citizen through the platform (public notes, messages), never directly.
CONTACT_ROLES = frozenset({Role.OPERATOR, Role.SUPERVISOR})
# Roles that work reports (see rows); the council only reads aggregate numbers.
REPORT_ROLES = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.DISTRICT_MANAGER, Role.UNIT_STAFF})


@dataclass(frozen=True)
class StaffScope:
    user_id: int
    role: str
    # None: every district / unit. Otherwise the ids of district rows (every boundary set) and of
    # service areas whose reports this user may see.
    district_ids: frozenset[int] | None
    service_area_ids: frozenset[int] | None
    district_codes: tuple[str, ...] = ()
    service_area_codes: tuple[str, ...] = ()

    @property
    def sees_contacts(self) -> bool:
        return self.role in CONTACT_ROLES

    @property
    def sees_reports(self) -> bool:
        return self.role in REPORT_ROLES

    @property
    def whole_city(self) -> bool:
        return self.district_ids is None and self.service_area_ids is None


# A member of staff's role and scope in one prepared round trip (it runs on every staff request): the
# profile, the district rows (every boundary set) with one of its codes or inside one, two levels down
# (jurisdiction -> region -> sub-district), and the service areas with one of its codes. `{user}` is
# the user's id: a parameter here, the token's user in STAFF_TOKEN_SQL.
_SCOPE_SELECT = """
SELECT p.role, p.district_codes, p.service_area_codes,
       CASE WHEN p.role = 'district_manager' THEN ARRAY(
         SELECT d.id FROM districts_district d
           LEFT JOIN districts_district p1 ON p1.id = d.parent_id
           LEFT JOIN districts_district p2 ON p2.id = p1.parent_id
          WHERE d.code = ANY(p.district_codes) OR p1.code = ANY(p.district_codes)
             OR p2.code = ANY(p.district_codes)) END AS district_ids,
       CASE WHEN p.role = 'unit_staff' THEN ARRAY(
         SELECT sa.id FROM districts_servicearea sa WHERE sa.code = ANY(p.service_area_codes)) END
         AS service_area_ids
  FROM issues_staffprofile p
 WHERE p.user_id = {user}"""
STAFF_SCOPE_SQL = _SCOPE_SELECT.format(user="%s")
SCOPE_COLUMNS = ("role", "district_codes", "service_area_codes", "district_ids", "service_area_ids")

# An API token's user and, for staff, their scope, in one round trip: what every request of the
# staff API (the phone app's) starts with. The user's columns come first, by name.
STAFF_TOKEN_SQL = f"""
SELECT u.*, s.role, s.district_codes, s.service_area_codes, s.district_ids, s.service_area_ids
  FROM authtoken_token t
  JOIN auth_user u ON u.id = t.user_id
  LEFT JOIN LATERAL ({_SCOPE_SELECT.format(user="u.id")}) s ON true
 WHERE t.key = %s"""


def _scope_from_row(user: AbstractBaseUser, row: tuple | None) -> StaffScope | None:
    user_id = int(user.pk)  # type: ignore[arg-type]  # a saved user: it has an id
    if row is None or row[0] is None:
        if getattr(user, "is_superuser", False):
            return StaffScope(user_id=user_id, role=Role.SUPERVISOR, district_ids=None, service_area_ids=None)
        return None
    role, district_codes, service_area_codes, district_ids, service_area_ids = row
    return StaffScope(
        user_id=user_id,
        role=role,
        district_ids=frozenset(district_ids) if district_ids is not None else None,
        service_area_ids=frozenset(service_area_ids) if service_area_ids is not None else None,
        district_codes=tuple(district_codes) if role == Role.DISTRICT_MANAGER else (),
        service_area_codes=tuple(service_area_codes) if role == Role.UNIT_STAFF else (),
    )


def staff_token_user(*, key: str) -> AbstractBaseUser | None:
    """The user of an API token, with their scope already read (see `staff_scope`), or None."""
    from django.contrib.auth import get_user_model

    from open137.db import fetchone_with_names

    found = fetchone_with_names(STAFF_TOKEN_SQL, [key])
    if found is None:
        return None
    names, row = found
    split = len(names) - len(SCOPE_COLUMNS)
    model = get_user_model()
    # The table's column order need not be the model's: each value is placed by its name.
    values = dict(zip(names[:split], row[:split], strict=True))
    fields = [f.attname for f in model._meta.concrete_fields]
    user = model.from_db("default", fields, [values[name] for name in fields])
    user._open137_scope = (_scope_from_row(user, row[split:]),)  # type: ignore[attr-defined]
    return user


def staff_scope(*, user: AbstractBaseUser | AnonymousUser | None) -> StaffScope | None:
    """The scope of a member of staff, or None for anyone else (citizens, anonymous)."""
    from open137.db import fetchone_prepared

    if user is None or not user.is_authenticated or not user.is_active:
        return None
    # Read with the API token (staff_token_user), in the same round trip: kept for this request.
    known = getattr(user, "_open137_scope", None)
    if known is not None:
        return known[0]
    return _scope_from_row(cast(AbstractBaseUser, user), fetchone_prepared(STAFF_SCOPE_SQL, [user.pk]))


def reports_in_scope(*, scope: StaffScope) -> QuerySet[Report]:
    """The reports this member of staff may see; nothing at all for a role that sees no rows."""
    reports = Report.objects.all()
    if not scope.sees_reports:
        return reports.none()
    if scope.role not in (Role.SUPERVISOR, Role.OPERATOR):
        reports = reports.exclude(kind__in=SUPERVISOR_ONLY_KINDS)
    if scope.district_ids is not None:
        reports = reports.filter(district_id__in=scope.district_ids)
    if scope.service_area_ids is not None:
        reports = reports.filter(service_area_id__in=scope.service_area_ids)
    return reports


def report_in_scope_get(*, scope: StaffScope, code: str) -> Report | None:
    """The report with this tracking code if this member of staff may see it, else None (a 404)."""
    from issues.selectors import tracking_code_normalize

    normalized = tracking_code_normalize(code)
    if not normalized:
        return None
    # No ORDER BY (which `.first()` adds): the unique tracking code finds the row through its own
    # index, where an order invited the planner to walk the manager's inbox index instead.
    found = list(
        reports_in_scope(scope=scope)
        .select_related("category", "district", "service_area", "assigned_to")
        .filter(tracking_code=normalized)
        .order_by()[:1]
    )
    return found[0] if found else None


def report_in_scope(*, scope: StaffScope, report: Report) -> bool:
    """Whether this member of staff may see this report: the test of `reports_in_scope` on a row
    already read (no query; a test holds the two to the same answers)."""
    if not scope.sees_reports:
        return False
    if scope.role not in (Role.SUPERVISOR, Role.OPERATOR) and report.kind in SUPERVISOR_ONLY_KINDS:
        return False
    if scope.district_ids is not None and report.district_id not in scope.district_ids:
        return False
    return scope.service_area_ids is None or report.service_area_id in scope.service_area_ids
