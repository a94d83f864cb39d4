"""The workflow as data: which action takes a report from which states to which, who may take it,
and for which kinds of message. `report_transition` (issues/workflow/services.py) is the only way a
status changes, and it reads this table; the pages and the API offer exactly the actions it allows.

The line: received -> forwarded (delivered to the unit) -> acknowledged -> in progress -> done by
unit (work report) -> verified -> closed. Side exits: transferred (to another unit, with a reason),
not responsible (referred outside the municipality), duplicate, reopened (not fixed: back to the
unit), resolved by citizens. Suggestions, criticism and appreciation take a short path: the unit
acknowledges and answers (closes); complaints and dissatisfaction go to the 137 supervisors only.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from issues.models import MessageKind, ReportStatus, Role

S = ReportStatus

# Who acts besides staff roles: the reporter through their private link, and the system itself
# (routing at intake, the SLA job).
CITIZEN = "citizen"
SYSTEM = "system"

UNIT = Role.UNIT_STAFF.value
MANAGER = Role.DISTRICT_MANAGER.value
SUPERVISOR = Role.SUPERVISOR.value
OPERATOR = Role.OPERATOR.value

# Kinds of message that are problems to fix (the full line) and the others.
PROBLEM_KINDS = frozenset({MessageKind.SERVICE_REQUEST.value})
SHORT_KINDS = frozenset(
    {MessageKind.SUGGESTION.value, MessageKind.CRITICISM.value, MessageKind.APPRECIATION.value}
)
# About staff or the service itself: only the 137 supervisors see and handle them.
SUPERVISOR_ONLY_KINDS = frozenset({MessageKind.COMPLAINT.value, MessageKind.DISSATISFACTION.value})
ALL_KINDS = PROBLEM_KINDS | SHORT_KINDS | SUPERVISOR_ONLY_KINDS

# Where a report may be worked from: states in which it is with a unit.
WITH_UNIT = frozenset({S.FORWARDED, S.TRANSFERRED, S.REOPENED})
ACTIVE = frozenset({S.RECEIVED, S.FORWARDED, S.TRANSFERRED, S.REOPENED, S.ACKNOWLEDGED, S.IN_PROGRESS})


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    roles: frozenset[str]
    kinds: frozenset[str] = ALL_KINDS
    # The public sees the step on the tracking page and the reporter is told of it.
    public: bool = True
    label: object = ""


def _t(action: str, sources: frozenset | set, target: str, roles: set[str], **extra: object) -> Transition:
    return Transition(action, frozenset(str(s) for s in sources), str(target), frozenset(roles), **extra)  # type: ignore[arg-type]


TRANSITIONS: tuple[Transition, ...] = (
    # Routing. A report routed at intake is forwarded by the system at once; one in the triage queue
    # (no unit) waits for a supervisor to choose the unit.
    _t("forward", {S.RECEIVED}, S.FORWARDED, {SYSTEM}, label=_("forward to the unit")),
    _t("route", {S.RECEIVED}, S.FORWARDED, {SUPERVISOR}, label=_("route to a unit")),
    # The unit confirms it has it.
    _t("acknowledge", WITH_UNIT, S.ACKNOWLEDGED, {UNIT, MANAGER, SUPERVISOR}, label=_("acknowledge")),
    _t(
        "start",
        {S.ACKNOWLEDGED},
        S.IN_PROGRESS,
        {UNIT, MANAGER, SUPERVISOR},
        kinds=PROBLEM_KINDS,
        label=_("start / schedule the work"),
    ),
    # The work report: text and at least one after-photo.
    _t(
        "done",
        {S.ACKNOWLEDGED, S.IN_PROGRESS},
        S.DONE,
        {UNIT, MANAGER, SUPERVISOR},
        kinds=PROBLEM_KINDS,
        label=_("work done (work report)"),
    ),
    # Duty 6: the reporter or a 137 check confirms the work ...
    _t(
        "verify",
        {S.DONE},
        S.VERIFIED,
        {SUPERVISOR, CITIZEN},
        kinds=PROBLEM_KINDS,
        label=_("confirm the work"),
    ),
    # ... or says it is not fixed: back to the unit.
    _t(
        "reopen",
        {S.DONE, S.VERIFIED, S.CLOSED},
        S.REOPENED,
        {SUPERVISOR, CITIZEN},
        kinds=PROBLEM_KINDS,
        label=_("reopen: not fixed"),
    ),
    _t("close", {S.DONE, S.VERIFIED}, S.CLOSED, {SUPERVISOR, SYSTEM}, kinds=PROBLEM_KINDS, label=_("close")),
    # Suggestions, criticism, appreciation: acknowledged by the unit, then answered and closed.
    # Complaints and dissatisfaction: the supervisors handle and close them.
    _t(
        "answer",
        {S.ACKNOWLEDGED, *WITH_UNIT, S.RECEIVED},
        S.CLOSED,
        {UNIT, MANAGER, SUPERVISOR},
        kinds=SHORT_KINDS | SUPERVISOR_ONLY_KINDS,
        label=_("answer and close"),
    ),
    # Side exits.
    _t("transfer", ACTIVE, S.TRANSFERRED, {UNIT, MANAGER, SUPERVISOR}, label=_("transfer to another unit")),
    _t(
        "refer",
        ACTIVE,
        S.NOT_RESPONSIBLE,
        {MANAGER, SUPERVISOR},
        label=_("not responsible: refer outside the municipality"),
    ),
    _t("duplicate", ACTIVE, S.DUPLICATE, {UNIT, MANAGER, SUPERVISOR}, label=_("mark as a duplicate")),
    _t(
        "resolve_by_citizens",
        ACTIVE,
        S.RESOLVED_BY_CITIZENS,
        # The reporter too, through their private link, when confirming a citizen's pledge done
        # (participation/services.py pledge_confirm is the only caller in that role).
        {SUPERVISOR, MANAGER, CITIZEN},
        kinds=PROBLEM_KINDS,
        label=_("resolved by citizens"),
    ),
)

BY_ACTION: dict[str, tuple[Transition, ...]] = {}
for _transition in TRANSITIONS:
    BY_ACTION.setdefault(_transition.action, ())
    BY_ACTION[_transition.action] += (_transition,)

# Steps that change no status but are recorded (and scoped) like the others.
NOTE_ROLES = frozenset({UNIT, MANAGER, SUPERVISOR, OPERATOR})
ASSIGN_ROLES = frozenset({UNIT, MANAGER, SUPERVISOR})
ACTIONS = frozenset(BY_ACTION) | {"note", "assign"}

# Who may file a work report's fields.
REFERRAL_TARGETS = ("water", "gas", "power", "police", "telecom", "other")


def transition_for(*, action: str, status: str, kind: str) -> Transition | None:
    """The row that lets `action` run on a report in `status` of `kind`, whoever acts."""
    for transition in BY_ACTION.get(action, ()):
        if status in transition.sources and kind in transition.kinds:
            return transition
    return None


def actions_allowed(*, status: str, kind: str, role: str) -> list[Transition]:
    """The status changes `role` may make on a report in `status` of `kind`, in the table's order."""
    return [t for t in TRANSITIONS if role in t.roles and status in t.sources and kind in t.kinds]
