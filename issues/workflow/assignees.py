"""Who a report may be assigned to: reads for the staff's "assign" forms (the console's report page
and its bulk action). The choice is only an offer: `report_transition` checks again, report by
report, that the assignee may see it.

In practice a unit's own staff take the jobs: unit staff are offered their colleagues (a shared unit),
a district manager the unit staff and themselves, the 137 centre the unit staff and the managers.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from issues.models import Role, StaffProfile
from issues.workflow.scope import StaffScope

ASSIGNEE_ROLES = (Role.UNIT_STAFF, Role.DISTRICT_MANAGER)


def staff_assignee_choices(*, scope: StaffScope) -> list[dict[str, Any]]:
    """Active members of staff this user may hand reports to: `username`, `name`, `role`."""
    active = StaffProfile.objects.filter(user__is_active=True)
    if scope.role == Role.UNIT_STAFF:
        profiles = active.filter(
            role=Role.UNIT_STAFF, service_area_codes__overlap=list(scope.service_area_codes)
        )
    elif scope.role == Role.DISTRICT_MANAGER:
        profiles = active.filter(Q(role=Role.UNIT_STAFF) | Q(user_id=scope.user_id))
    else:
        profiles = active.filter(role__in=ASSIGNEE_ROLES)
    rows = profiles.order_by("user__username").values(
        "user__username", "user__first_name", "user__last_name", "role"
    )
    return [
        {
            "username": r["user__username"],
            "name": f"{r['user__first_name']} {r['user__last_name']}".strip(),
            "role": r["role"],
        }
        for r in rows
    ]
