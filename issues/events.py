"""One writer per kind of report event: the only place `ReportEvent` rows are built.

A report's history is append-only and is read by the public timeline, Open311's notes and updates
feed, the staff timeline and the scorecards. Each kind of event has one function here that decides
its fields (who, from and to which state, whether the public sees it, what `data` it carries), so a
reader can rely on the shape of a kind wherever it was written. Each takes keyword arguments and
returns the saved event, except `created_event`, which report_create writes in one statement with
the report itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils.translation import gettext as _

from issues.models import Report, ReportEvent

if TYPE_CHECKING:
    from districts.selectors import Routing

# The label of the citizen's own steps (they have no account); a command or system process names
# itself the same way (`reroute`, `open311`, `demo_load`, `sla`).
CITIZEN = "citizen"


def _user(actor: AbstractBaseUser | AnonymousUser | None) -> Any:
    return actor if actor is not None and actor.pk else None


def routing_data(routing: Routing) -> dict[str, object]:
    """How a report was routed, as its `created` and `rerouted` events record it."""
    return {
        "district": routing.district.code if routing.district else None,
        "service_area": routing.service_area.code if routing.service_area else None,
        "rule": str(routing.rule),
        "distance_m": round(routing.distance_m, 1),
    }


def created_event(
    *, status: str, routing: Routing, channel: str, actor: AbstractBaseUser | None = None
) -> ReportEvent:
    """The first event of every report, unsaved: report_create inserts it with the report. A report
    routed to a unit is forwarded to it in the same step: the event goes from received to forwarded."""
    return ReportEvent(
        kind=ReportEvent.Kind.CREATED,
        actor=_user(actor),
        from_status="received",
        to_status=status,
        data={"routing": routing_data(routing), "channel": channel},
    )


# The same event as `status_changed_event`, written by the one-statement transition
# (issues/workflow/quick.py) inside its UPDATE's WITH: the SELECT reads the changed row from the CTE
# `changed` (id, from_status). Kept here, beside its ORM twin, so the kind's shape has one home;
# a test holds the two to the same row.
STATUS_CHANGED_EVENT_INSERT_SQL = """
INSERT INTO issues_reportevent
       (report_id, kind, actor_id, actor_label, at, from_status, to_status, note, public, data)
SELECT changed.id, 'status', %(actor_id)s, '', now(), changed.from_status, %(target)s, %(note)s,
       %(public)s, jsonb_build_object('action', %(action)s::text)
  FROM changed
RETURNING id, at"""


def status_changed_event(
    *,
    report: Report,
    from_status: str,
    to_status: str,
    action: str,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    note: str = "",
    public: bool = True,
    data: dict[str, Any] | None = None,
) -> ReportEvent:
    """A step of the workflow: the report went from one state to another by `action`."""
    return ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.STATUS,
        actor=_user(actor),
        actor_label=actor_label,
        from_status=from_status,
        to_status=to_status,
        note=note,
        public=public,
        data={"action": action, **(data or {})},
    )


def rerouted_event(
    *,
    report: Report,
    routing: Routing,
    from_district: str | None,
    from_service_area: str | None,
    actor_label: str,
) -> ReportEvent:
    """Routed again after a boundary or unit change (`reroute`): public, the state unchanged."""
    return ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.REROUTED,
        actor_label=actor_label,
        from_status=report.status,
        to_status=report.status,
        note=_("Re-routed after a boundary change."),
        data={
            "from": {"district": from_district, "service_area": from_service_area},
            "routing": routing_data(routing),
        },
    )


def support_event(*, report: Report, channel: str) -> ReportEvent:
    """A citizen's "me too": public, with no trace of who."""
    return ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.SUPPORT,
        actor_label=CITIZEN,
        public=True,
        note=_("A citizen reported the same problem (me too)."),
        data={"channel": channel},
    )


def citizen_info_event(*, report: Report, text: str, photo_count: int) -> ReportEvent:
    """The reporter added information through their private link: public on the timeline."""
    return ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.CITIZEN_INFO,
        actor_label=CITIZEN,
        public=True,
        note=text,
        data={"photos": photo_count},
    )


def citizen_feedback_event(*, report: Report, fixed: bool, note: str) -> ReportEvent:
    """The reporter says whether the work fixed the problem (what follows is the workflow's)."""
    return ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.CITIZEN_FEEDBACK,
        actor_label=CITIZEN,
        public=True,
        note=note,
        from_status=report.status,
        to_status=report.status,
        data={"feedback": "fixed" if fixed else "not_fixed"},
    )


def corrected_event(*, report: Report, actor: AbstractBaseUser | None, fields: Sequence[str]) -> ReportEvent:
    """Staff corrected the reporter's details: private, naming the fields but never the values."""
    return ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.CORRECTED,
        actor=_user(actor),
        public=False,
        data={"fields": sorted(fields)},
    )


def client_details_event(*, report: Report, details: dict[str, str], note: str) -> ReportEvent:
    """What an Open311 client sent beyond the report (its key's prefix, device, account, photo
    link): staff only."""
    return ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.CLIENT_DETAILS,
        actor_label="open311",
        public=False,
        note=note,
        data={k: v for k, v in details.items() if v},
    )


def note_event(
    *,
    report: Report,
    note: str,
    public: bool,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    data: dict[str, Any] | None = None,
) -> ReportEvent:
    """A note on the report by staff or a process, internal unless `public`."""
    return ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.NOTE,
        actor=_user(actor),
        actor_label=actor_label,
        public=public,
        note=note,
        data=data or {},
    )


def assigned_event(
    *, report: Report, actor: AbstractBaseUser | None, assignee: AbstractBaseUser, note: str = ""
) -> ReportEvent:
    """The report was given to one member of staff: internal (names of staff stay inside)."""
    return ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.ASSIGNED,
        actor=_user(actor),
        public=False,
        note=note,
        data={"assignee": assignee.get_username(), "assignee_id": assignee.pk},
    )


def escalated_event(*, report: Report, level: int, due_at: str) -> ReportEvent:
    """The SLA job escalated an unacknowledged report one rung up: internal."""
    return ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.ESCALATED,
        actor_label="sla",
        public=False,
        data={"level": level, "due_at": due_at},
    )


def verification_event(
    *, report: Report, actor: AbstractBaseUser | None, outcome: str, method: str, note: str = ""
) -> ReportEvent:
    """The outcome of a 137 check of the unit's work: internal (the status change it leads to, if
    any, is a public event of its own)."""
    return ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.VERIFICATION,
        actor=_user(actor),
        public=False,
        note=note,
        data={"outcome": outcome, "method": method},
    )


def rated_event(*, report: Report, score: int) -> ReportEvent:
    """The reporter rated the service: the score alone is public; the comment stays with the rating."""
    return ReportEvent.objects.create(
        report=report, kind=ReportEvent.Kind.RATED, actor_label=CITIZEN, public=True, data={"score": score}
    )


def messages_stopped_event(*, report: Report) -> ReportEvent:
    """The reporter asked for no more messages about this report."""
    return ReportEvent.objects.create(
        report=report, kind=ReportEvent.Kind.MESSAGES_STOPPED, actor_label=CITIZEN, public=False
    )


def citizen_pledge_event(*, report: Report, step: str) -> ReportEvent:
    """A citizen's pledge to take care of the report ("I'll take care of it"), said done or
    withdrawn: public on the timeline, with no trace of who (the pledge itself, in the
    participation app, keeps its own history). `step` is pledged, done or withdrawn; the
    confirmation is the workflow's own step (resolved by citizens)."""
    notes = {
        "pledged": _("A citizen has offered to take care of this."),
        "done": _("The citizen says it is done; awaiting confirmation."),
        "withdrawn": _("The citizen who offered to take care of this has withdrawn."),
    }
    return ReportEvent.objects.create(
        report=report,
        kind=ReportEvent.Kind.NOTE,
        actor_label=CITIZEN,
        public=True,
        note=str(notes[step]),
        data={"pledge": step},
    )
