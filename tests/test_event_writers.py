"""One writer per kind of report event: issues/events.py is the only module that builds or inserts
a `ReportEvent` row, one by one (the workflow, the citizen's steps) or in bulk (the demo generator's
SQL, the bench's datasets). Read from the source, like tests/test_layers.py holds the layers; and
each bulk writer's row is held to its one-by-one twin's, so the kind's shape has one home."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from issues import events
from issues.models import Report, ReportEvent
from issues.services.intake import report_create
from tests.conftest import pt

ROOT = Path(settings.BASE_DIR)
WRITER = ROOT / "issues" / "events.py"
# Not the project's modules: the tests build what they check, the rest is tooling and data.
SKIPPED_DIRS = {".venv", "node_modules", "tests", "migrations", "var", ".git", ".mypy_cache", ".ruff_cache"}
# Building an event (the ORM's constructor or managers) or inserting one in SQL.
WRITES = re.compile(
    r"(?<!class )\bReportEvent\s*\("
    r"|\bReportEvent\s*\.\s*(?:objects|_default_manager|_base_manager)\s*\.\s*"
    r"(?:create|bulk_create|get_or_create|update_or_create)\b"
    r"|\bINSERT\s+INTO\s+\"?issues_reportevent\b"
    r"|\bCOPY\s+\"?issues_reportevent\b",
    re.IGNORECASE,
)
FIELDS = ("kind", "actor_id", "actor_label", "from_status", "to_status", "note", "public", "data")


def _modules() -> list[Path]:
    return [path for path in ROOT.rglob("*.py") if not SKIPPED_DIRS & set(path.relative_to(ROOT).parts)]


def _writes(source: str) -> list[str]:
    return [match.group(0) for match in WRITES.finditer(source)]


def test_no_module_but_issues_events_builds_or_inserts_report_events():
    modules = _modules()
    # The scan reads the project (the apps, the generator, the bench), not an empty list.
    names = {p.relative_to(ROOT).as_posix() for p in modules}
    assert {"issues/services/demo_generate.py", "issues/workflow/quick.py", "bench/datasets.py"} <= names
    offenders = {
        path.relative_to(ROOT).as_posix(): found
        for path in modules
        if path != WRITER and (found := _writes(path.read_text(encoding="utf-8")))
    }
    assert not offenders, f"ReportEvent rows written outside issues/events.py: {offenders}"
    # The writer itself is seen by the same scan: it holds the SQL and the ORM writes.
    assert len(_writes(WRITER.read_text(encoding="utf-8"))) > 10


def test_the_scan_sees_every_way_of_writing_an_event():
    # The check must be able to fail: each way of writing a row, across line breaks and in any case.
    samples = [
        "e = ReportEvent(report=r, kind='note')",
        "ReportEvent.objects.create(report=r)",
        "ReportEvent.objects.bulk_create(rows, batch_size=500)",
        "ReportEvent._default_manager.get_or_create(report=r)",
        '"""insert into\n   issues_reportevent (report_id) SELECT 1"""',
        "cursor.copy('COPY issues_reportevent (report_id) FROM STDIN')",
    ]
    for sample in samples:
        assert _writes(sample), sample
    # Reading the table, naming the model and declaring it are not writes.
    assert not _writes("class ReportEvent(models.Model):")
    assert not _writes("SELECT count(*) FROM issues_reportevent e WHERE e.report_id = %s")
    assert not _writes("ReportEvent.objects.filter(report=r).exists()")


def _bulk_row(*, select: str, report: Report) -> ReportEvent:
    """One row written by a bulk select and the one insert, as the generator writes them."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE writer_staging AS {select}")
        cursor.execute(events.report_events_bulk_insert_sql(staging="writer_staging"))
        assert cursor.rowcount == 1
        cursor.execute("DROP TABLE writer_staging")
    return ReportEvent.objects.filter(report=report).latest("id")


def _fields(event: ReportEvent) -> dict[str, object]:
    return {name: getattr(event, name) for name in FIELDS}


@pytest.mark.django_db
def test_each_bulk_writer_writes_the_row_its_one_by_one_twin_writes(city):
    report = report_create(category=city.pothole, location=pt(*city.points.r1), channel="web")
    source = f"(SELECT {int(report.pk)} AS report_id, 1 AS seq, now() AS at, {{}}) s"

    # created: report_create's own event, and the generator's marker on top.
    one = report.events.get(kind=ReportEvent.Kind.CREATED)
    routing = one.data["routing"]
    bulk = _bulk_row(
        report=report,
        select=events.created_events_select(
            source=source.format(
                f"'{one.to_status}' AS to_status, '{routing['district']}' AS district, "
                f"'{routing['service_area']}' AS service_area, '{routing['rule']}' AS rule, "
                f"{routing['distance_m']} AS distance_m, 'web' AS channel"
            )
        ),
    )
    assert one.to_status == "forwarded" and routing["service_area"] == "roads-r1"
    assert _fields(bulk) == {**_fields(one), "data": {**one.data, "generated": True}}

    # status: a step with further keys, and one without.
    for extra_sql, extra in (("jsonb_build_object('service_area', 'roads-r1')", {"service_area": "roads-r1"}),
                             ("NULL::jsonb", {})):  # fmt: skip
        one = events.status_changed_event(
            report=report, from_status="in_progress", to_status="done", action="done",
            actor_label="demo_generate", data=extra,
        )  # fmt: skip
        bulk = _bulk_row(
            report=report,
            select=events.status_changed_events_select(
                source=source.format(
                    "'in_progress' AS from_status, 'done' AS to_status, 'demo_generate' AS actor_label, "
                    f"'done' AS action, {extra_sql} AS data"
                )
            ),
        )
        assert _fields(bulk) == _fields(one)
        assert bulk.public and bulk.data == {"action": "done", **extra}

    # verification: internal.
    one = events.verification_event(report=report, actor=None, outcome="not_fixed", method="call_back")
    bulk = _bulk_row(
        report=report,
        select=events.verification_events_select(
            source=source.format("'' AS actor_label, 'not_fixed' AS outcome, 'call_back' AS method")
        ),
    )
    assert _fields(bulk) == _fields(one) and bulk.public is False

    # rated: the citizen's score, public.
    one = events.rated_event(report=report, score=4)
    bulk = _bulk_row(report=report, select=events.rated_events_select(source=source.format("4 AS score")))
    assert _fields(bulk) == _fields(one) and bulk.actor_label == "citizen"


@pytest.mark.django_db
def test_the_bulk_insert_numbers_events_in_the_order_they_happened(city):
    report = report_create(category=city.pothole, location=pt(*city.points.r1))
    # Three steps written out of order, two at one instant: ids follow the time, then the step order.
    select = events.status_changed_events_select(
        source=f"""(VALUES ({int(report.pk)}, 3, now() + interval '2 hours', 'acknowledged', 'in_progress', 'x', 'start', NULL::jsonb),
                           ({int(report.pk)}, 2, now() + interval '1 hour', 'forwarded', 'acknowledged', 'x', 'acknowledge', NULL),
                           ({int(report.pk)}, 1, now() + interval '1 hour', 'received', 'forwarded', 'x', 'forward', NULL))
                   AS s(report_id, seq, at, from_status, to_status, actor_label, action, data)"""
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE writer_staging AS {select}")
        cursor.execute(events.report_events_bulk_insert_sql(staging="writer_staging"))
        cursor.execute("DROP TABLE writer_staging")
    written = report.events.filter(kind=ReportEvent.Kind.STATUS).order_by("id")
    assert [e.to_status for e in written] == ["forwarded", "acknowledged", "in_progress"]
