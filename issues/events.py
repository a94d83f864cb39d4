"""One writer per kind of report event: the only place `ReportEvent` rows are built.

A report's history is append-only and is read by the public timeline, Open311's notes and updates
feed, the staff timeline and the scorecards. Each kind of event has one function here that decides
its fields (who, from and to which state, whether the public sees it, what `data` it carries), so a
reader can rely on the shape of a kind wherever it was written. Each takes keyword arguments and
returns the saved event, except `created_event`, which report_create writes in one statement with
the report itself. The bulk writers at the end write the same kinds for many reports at once: in SQL
for the demo generator, with bulk_create for the bench's datasets. tests/test_event_writers.py holds
both: no other module builds or inserts a ReportEvent row.
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


def status_changed_event_written(
    *,
    event_id: int,
    report: Report,
    actor: AbstractBaseUser,
    at: Any,
    from_status: str,
    to_status: str,
    action: str,
    public: bool,
) -> ReportEvent:
    """The event STATUS_CHANGED_EVENT_INSERT_SQL wrote, as the object its ORM twin returns, built from
    the statement's answer rather than read back (the quick transition answers without a read)."""
    return ReportEvent(
        id=event_id,
        report=report,
        kind=ReportEvent.Kind.STATUS,
        actor=_user(actor),  # a staff account: the answer names it
        at=at,
        from_status=from_status,
        to_status=to_status,
        public=public,
        data={"action": action},
    )


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


# --- Bulk writers -----------------------------------------------------------------------------------
# The same kinds for many reports at once. The demo generator (issues/services/demo_generate.py) writes years of history for tens of
# thousands of reports in a few statements, never row by row. Its events are the kinds above, in the
# same shape, so the timelines, Open311 and the scorecards read them as they read a citizen's. Each
# `*_events_select` below is the SELECT of one kind's rows from `source` (a table, or a subquery with
# an alias, holding the columns its docstring names); the caller UNIONs them into a staging table
# whose columns are BULK_EVENT_COLUMNS, keeps the rows it wants (those that have happened by now)
# and writes them with report_events_bulk_insert_sql. Nobody real acts: no user, `actor_label` says
# who in the story did; no note. `seq` orders the steps a report takes at one instant.
BULK_EVENT_COLUMNS = ("report_id", "seq", "at", "kind", "from_status", "to_status", "actor_label", "note", "public", "data")  # fmt: skip


def _bulk_select(source: str, **columns: str) -> str:
    # Every kind takes its report, step order and time from the source as they are; no note.
    columns = {"report_id": "report_id", "seq": "seq", "at": "at", "note": "''::text", **columns}
    expressions = ", ".join(f"{columns[name]} AS {name}" for name in BULK_EVENT_COLUMNS)
    return f"SELECT {expressions} FROM {source}"  # noqa: S608 (our own SQL, no input)


def created_events_select(*, source: str) -> str:
    """`created_event`'s rows from `source` (report_id, seq, at, to_status, district, service_area,
    rule, distance_m, channel): the routing and the channel, and `generated: true`, as the report
    itself is marked."""
    return _bulk_select(
        source,
        kind=f"'{ReportEvent.Kind.CREATED.value}'::text",
        from_status="'received'::text",
        to_status="to_status::text",
        actor_label="''::text",
        public="true",
        data="""jsonb_build_object(
                  'routing', jsonb_build_object('district', district, 'service_area', service_area,
                                                'rule', rule, 'distance_m', round(distance_m::numeric, 1)),
                  'channel', channel, 'generated', true)""",
    )


def status_changed_events_select(*, source: str) -> str:
    """`status_changed_event`'s rows from `source` (report_id, seq, at, from_status, to_status,
    actor_label, action, data: the step's further keys as jsonb, or NULL): public, like the
    workflow's steps."""
    return _bulk_select(
        source,
        kind=f"'{ReportEvent.Kind.STATUS.value}'::text",
        from_status="from_status::text",
        to_status="to_status::text",
        actor_label="actor_label::text",
        public="true",
        data="jsonb_build_object('action', action::text) || COALESCE(data, '{}'::jsonb)",
    )


def verification_events_select(*, source: str) -> str:
    """`verification_event`'s rows from `source` (report_id, seq, at, actor_label, outcome, method):
    internal."""
    return _bulk_select(
        source,
        kind=f"'{ReportEvent.Kind.VERIFICATION.value}'::text",
        from_status="''::text",
        to_status="''::text",
        actor_label="actor_label::text",
        public="false",
        data="jsonb_build_object('outcome', outcome::text, 'method', method::text)",
    )


def rated_events_select(*, source: str) -> str:
    """`rated_event`'s rows from `source` (report_id, seq, at, score): by the citizen, the score
    alone, public."""
    return _bulk_select(
        source,
        kind=f"'{ReportEvent.Kind.RATED.value}'::text",
        from_status="''::text",
        to_status="''::text",
        actor_label=f"'{CITIZEN}'::text",
        public="true",
        data="jsonb_build_object('score', score)",
    )


def created_events_bulk_create(*, created: Sequence[tuple[Report, str, Routing, str]]) -> list[ReportEvent]:
    """`created_event` of reports saved together by bulk_create (the bench's datasets), for each
    (report, status, routing, channel): the same rows, inserted a batch at a time."""
    rows = []
    for report, status, routing, channel in created:
        event = created_event(status=status, routing=routing, channel=channel)
        event.report = report
        rows.append(event)
    return ReportEvent.objects.bulk_create(rows, batch_size=500)


def report_events_bulk_insert_sql(*, staging: str) -> str:
    """The one INSERT of a staging table of BULK_EVENT_COLUMNS (rows of the selects above): ids in
    the order of time, so a history read by id reads as it happened."""
    columns = "report_id, kind, actor_id, actor_label, at, from_status, to_status, note, public, data"
    return f"""INSERT INTO issues_reportevent ({columns})
       SELECT report_id, kind, NULL, actor_label, at, from_status, to_status, note, public, data
         FROM {staging} ORDER BY at, report_id, seq"""  # noqa: S608 (our own SQL, no input)
