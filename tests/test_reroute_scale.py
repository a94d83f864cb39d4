# mypy: disable-error-code="union-attr"
"""Re-routing at a city's scale: candidates found from what changed (through the spatial index), the
same answer as the pointwise rule on every open report, and writes in batches that never wait long
for a report a citizen is writing to."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from districts.changes import changed_area_build
from districts.models import BoundarySet, DistrictLevel, RoutingRule
from districts.selectors import district_codes_for_points
from districts.services import boundary_set_activate, district_create, district_update, service_area_save
from geo.srid import GEO_SRID
from issues.models import OPEN_STATUSES, Report, ReportEvent, ReportStatus
from issues.services import reroute
from issues.services.intake import report_create
from issues.services.reroute import (
    REROUTE_CANDIDATE_TABLE,
    REROUTE_CANDIDATES_SQL,
    reports_reroute,
    reroute_candidate_ids,
    reroute_run,
)
from tests.conftest import D, pt, rect

# --- the same answer as the pointwise rule ------------------------------------------------------------


def pointwise_candidate_ids() -> list[int]:
    """The rule (REROUTE_CANDIDATES_SQL) tested on every open report: what the candidates must be."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {REROUTE_CANDIDATE_TABLE} (id bigint PRIMARY KEY)")
        cursor.execute(f"TRUNCATE {REROUTE_CANDIDATE_TABLE}")
        cursor.execute(f"INSERT INTO {REROUTE_CANDIDATE_TABLE} SELECT id FROM issues_report")
        cursor.execute(
            "SELECT min(routed_at) FROM issues_report WHERE status = ANY(%s)", [sorted(OPEN_STATUSES)]
        )
        (since,) = cursor.fetchone()
        cursor.execute(
            REROUTE_CANDIDATES_SQL,
            {
                "open": sorted(OPEN_STATUSES),
                "units_since": since or timezone.now(),
                "tolerance_m": float(settings.OPEN137_ROUTING_TOLERANCE_M),
            },
        )
        return [row[0] for row in cursor.fetchall()]


def _same_as_pointwise() -> list[int]:
    found = reroute_candidate_ids()
    assert found == pointwise_candidate_ids()
    return found


def _settled() -> None:
    """After the moves are written, nothing moves any more (some candidates may stay: in a
    same-level overlap the covering keys differ while routing keeps its answer)."""
    _same_as_pointwise()
    assert reports_reroute(commit=False) == []


@pytest.fixture
def scattered(city):
    """200 open reports at seeded random points in and around the city (some within the routing
    tolerance of it, some far outside), and some exactly on the R1/R2 edge and on S11's edges."""
    rng = random.Random(137)
    points = [(rng.uniform(49.995, 50.045), rng.uniform(36.255, 36.285)) for _ in range(200)]
    points += [(50.02, 36.262 + 0.002 * i) for i in range(5)] + [(50.01, 36.2675), (50.0075, 36.27)]
    points += [(50.2, 36.27)]  # far outside: 137 triage
    made = [report_create(category=city.pothole, location=pt(x, y)) for x, y in points]
    rules = {r.routing_rule for r in made}
    assert {RoutingRule.COVERS, RoutingRule.NEAREST, RoutingRule.TRIAGE} <= rules
    closed = made[::17]
    Report.objects.filter(pk__in=[r.pk for r in closed]).update(status=ReportStatus.CLOSED)
    return made


def test_candidates_are_the_pointwise_rule_through_a_series_of_changes(
    city, scattered, boundary_set_factory, service_area_factory
):
    assert _same_as_pointwise() == []

    # A new set: the R1/R2 edge moves west, R3 appears east of R2 (within the tolerance of some
    # reports outside), S11 keeps its drawing.
    v2 = boundary_set_factory(
        [
            D("R1", rect(50.00, 36.26, 50.017, 36.28)),
            D("R2", rect(50.017, 36.26, 50.04, 36.28)),
            D("R3", rect(50.0405, 36.26, 50.05, 36.27)),
            D("S11", rect(50.005, 36.265, 50.01, 36.27), level=DistrictLevel.SUB_DISTRICT, parent="R1"),
        ],
        name="v2",
    )
    assert _same_as_pointwise() != []
    reports_reroute(commit=True)
    _settled()

    # Edited in place: a new sub-district, and R2 redrawn smaller.
    district_create(
        boundary_set=v2.boundary_set,
        code="S21",
        name_fa="ناحیه دو یک",
        boundary=rect(50.02, 36.27, 50.03, 36.28),
        level=DistrictLevel.SUB_DISTRICT,
        parent=v2["R2"],
    )
    district_update(district=v2["R2"], boundary=rect(50.017, 36.26, 50.038, 36.28))
    assert _same_as_pointwise() != []

    # A third set before the second's moves are written: overlapping regions of one level (R1 and
    # R2 overlap, then R1's area changes far from the overlap), a code gone (R3), one changed level.
    boundary_set_factory(
        [
            D("R1", rect(50.00, 36.258, 50.021, 36.28)),
            D("R2", rect(50.019, 36.26, 50.04, 36.28)),
            D("S11", rect(50.005, 36.265, 50.01, 36.27)),  # a region now
        ],
        name="v3",
    )
    assert _same_as_pointwise() != []
    reports_reroute(commit=True)
    _settled()

    # A unit changes; then the first set is activated again.
    unit = city.areas.r2
    unit.district_code = "S11"
    service_area_save(service_area=unit, boundary_changed=False)
    service_area_factory(city.roads, "roads-zone", boundary=rect(50.01, 36.272, 50.03, 36.28))
    assert _same_as_pointwise() != []
    reports_reroute(commit=True)
    boundary_set_activate(boundary_set=city.set)
    assert _same_as_pointwise() != []
    reports_reroute(commit=True)
    _settled()


def test_a_district_redrawn_in_place_before_the_set_was_left_still_counts(
    city, scattered, boundary_set_factory
):
    # R1 redrawn in the active set; another set activated, then this one again, before any re-routing:
    # the reports routed before the redraw are still looked at again.
    district_update(district=city.districts["R1"], boundary=rect(50.00, 36.26, 50.016, 36.28))
    boundary_set_factory([D("R1", rect(50.00, 36.26, 50.02, 36.28))], name="elsewhere")
    boundary_set_activate(boundary_set=BoundarySet.objects.get(pk=city.set.pk))
    found = _same_as_pointwise()
    assert found
    moves = reports_reroute(commit=False)
    assert moves and {m.from_district for m in moves} <= {"R1", "S11", None}


def test_reports_in_an_overlap_move_when_the_order_by_area_flips(city, boundary_set_factory):
    # R1 and R2 overlap between lon 50.019 and 50.021; R1 is the smaller, so it takes the overlap.
    boundary_set_factory(
        [D("R1", rect(50.00, 36.26, 50.021, 36.28)), D("R2", rect(50.019, 36.26, 50.045, 36.28))], name="x1"
    )
    in_overlap = report_create(category=city.pothole, location=pt(50.02, 36.27))
    elsewhere = report_create(category=city.pothole, location=pt(50.01, 36.27))
    assert in_overlap.district.code == "R1"

    # R1 grows west but stays the smaller: the overlap is not looked at again.
    boundary_set_factory(
        [D("R1", rect(49.998, 36.26, 50.021, 36.28)), D("R2", rect(50.019, 36.26, 50.045, 36.28))], name="x2"
    )
    assert _same_as_pointwise() == []

    # R1 grows west past R2's size, far from the overlap: the overlap goes to R2 now.
    boundary_set_factory(
        [D("R1", rect(49.99, 36.26, 50.021, 36.28)), D("R2", rect(50.019, 36.26, 50.045, 36.28))], name="x3"
    )
    assert _same_as_pointwise() == [in_overlap.pk]
    moves = reports_reroute(commit=True)
    assert [(m.tracking_code, m.from_district, m.to_district) for m in moves] == [
        (in_overlap.tracking_code, "R1", "R2")
    ]
    assert Report.objects.get(pk=elsewhere.pk).district.code == "R1"


# --- a city's scale, test-sized -------------------------------------------------------------------------

N_REPORTS = 20_000
EDGE_SHIFT = 0.0033  # degrees of longitude: about 300 m at Qazvin's latitude


def _bulk_reports(city, n: int) -> tuple[list[float], list[float]]:
    """`n` reports at seeded random points in the city, routed by the project's bulk routing, two
    thirds of them open; written in one INSERT that copies a template report's other columns
    (report_create would take minutes, bulk_create most of one)."""
    rng = random.Random(20_000)
    lons = [rng.uniform(50.0, 50.04) for _ in range(n)]
    lats = [rng.uniform(36.26, 36.28) for _ in range(n)]
    codes = district_codes_for_points(lons=lons, lats=lats)
    units = {"R1": city.areas.r1, "R2": city.areas.r2, "S11": city.areas.r1}
    statuses = [ReportStatus.RECEIVED, ReportStatus.IN_PROGRESS, ReportStatus.CLOSED]
    template = report_create(category=city.pothole, location=pt(50.01, 36.27))
    # Routed now: after the districts and units were drawn, as a report's routing is.
    Report.objects.filter(pk=template.pk).update(routed_at=timezone.now())
    made = {
        "tracking_code": "'T' || lpad(x.i::text, 7, '0')",
        "location": f"ST_SetSRID(ST_MakePoint(x.lon, x.lat), {GEO_SRID})",
        "status": "x.status",
        "district_id": "x.district_id",
        "service_area_id": "x.unit_id",
    }
    columns = [str(f.column) for f in Report._meta.local_concrete_fields if f.column != "id"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO issues_report ({", ".join(columns)})
                SELECT {", ".join(made.get(c, f"t.{c}") for c in columns)}
                  FROM issues_report t,
                       unnest(%s::int[], %s::float8[], %s::float8[], %s::text[], %s::bigint[], %s::bigint[])
                         AS x(i, lon, lat, status, district_id, unit_id)
                 WHERE t.id = %s""",
            [
                list(range(n)),
                lons,
                lats,
                [str(statuses[i % 3]) for i in range(n)],
                [city.districts[str(code)].pk for code in codes],
                [units[str(code)].pk for code in codes],
                template.pk,
            ],
        )
        cursor.execute("ANALYZE issues_report")
    return lons, lats


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _nodes(child))]


def test_a_moved_edge_examines_only_the_reports_in_the_strip(city, boundary_set_factory):
    lons, lats = _bulk_reports(city, N_REPORTS)
    edge = 50.02 - EDGE_SHIFT
    boundary_set_factory(
        [
            D("R1", rect(50.00, 36.26, edge, 36.28)),
            D("R2", rect(edge, 36.26, 50.04, 36.28)),
            D("S11", rect(50.005, 36.265, 50.01, 36.27), level=DistrictLevel.SUB_DISTRICT, parent="R1"),
        ],
        name="edge moved",
    )
    in_strip = {f"T{i:07d}" for i in range(N_REPORTS) if edge < lons[i] < 50.02 and i % 3 != 2}
    assert 1000 < len(in_strip) < 1400  # about 300 m of 3.6 km, of the open two thirds

    # The probe of the changed area goes through the reports' spatial index, never a scan of them.
    with transaction.atomic(), connection.cursor() as cursor:
        active = BoundarySet.objects.get(active=True).pk
        changed_area_build(new_set_id=active, old_sets={city.set.pk: None})
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {REROUTE_CANDIDATE_TABLE} (id bigint PRIMARY KEY)")
        cursor.execute(
            "EXPLAIN (FORMAT JSON) " + reroute._CANDIDATES_IN_CHANGED_AREA,
            {"open": sorted(OPEN_STATUSES)},
        )
        plan = cursor.fetchone()[0][0]["Plan"]
    reads = [
        (n["Node Type"], n.get("Index Name", ""))
        for n in _nodes(plan)
        if n.get("Relation Name") == "issues_report"
    ]
    assert reads and all(kind in ("Index Scan", "Bitmap Heap Scan") for kind, _index in reads), reads
    assert any("location" in n.get("Index Name", "") for n in _nodes(plan)), reads

    started = time.monotonic()
    candidates = reroute_candidate_ids()
    selected_in = time.monotonic() - started
    moves = reports_reroute(commit=False)
    # Every candidate moves: the candidates are the open reports in the strip, nothing else.
    assert {m.tracking_code for m in moves} == in_strip
    assert len(candidates) == len(in_strip)
    assert all((m.from_district, m.to_district) == ("R1", "R2") for m in moves)
    assert selected_in < 3.0, selected_in  # about 0.1 s here; the old pointwise query took seconds


# --- writing in batches, with a lock timeout ---------------------------------------------------------------


def _moving_reports(city, n: int) -> list[Report]:
    made = [report_create(category=city.pothole, location=pt(50.016 + 0.001 * i, 36.275)) for i in range(n)]
    assert all(r.district.code == "R1" for r in made)
    return made


def _shrink_r1(boundary_set_factory) -> None:
    boundary_set_factory(
        [
            D("R1", rect(50.00, 36.26, 50.015, 36.28)),
            D("R2", rect(50.015, 36.26, 50.04, 36.28)),
            D("S11", rect(50.005, 36.265, 50.01, 36.27), level=DistrictLevel.SUB_DISTRICT, parent="R1"),
        ],
        name="R1 shrinks",
    )


def _other_connection(work: Any) -> Any:
    """Run `work()` in another thread, on a database connection of its own; return its result."""
    outcome: dict[str, Any] = {}

    def body() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:  # noqa: BLE001 (re-raised below)
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(30)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


@pytest.mark.django_db(transaction=True)
def test_each_batch_is_committed_and_unlocked_before_the_next(city, boundary_set_factory, monkeypatch):
    made = _moving_reports(city, 3)
    _shrink_r1(boundary_set_factory)
    monkeypatch.setattr(reroute, "REROUTE_BATCH", 1)
    written = reroute.events.rerouted_event
    seen: list[tuple[str, bool, str]] = []

    def rerouted_event(*, report: Report, **kwargs: Any) -> Any:
        # While this report is written, another connection looks at the ones written before it.
        for earlier in made[: [r.pk for r in made].index(report.pk)]:

            def look(pk: int = earlier.pk) -> tuple[bool, str]:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT d.code FROM issues_report r JOIN districts_district d ON d.id = r.district_id"
                        " WHERE r.id = %s FOR UPDATE OF r SKIP LOCKED",
                        [pk],
                    )
                    row = cursor.fetchone()
                return row is not None, row[0] if row else ""

            free, code = _other_connection(look)
            seen.append((earlier.tracking_code, free, code))
        return written(report=report, **kwargs)

    monkeypatch.setattr(reroute.events, "rerouted_event", rerouted_event)
    run = reroute_run(commit=True)
    assert [m.tracking_code for m in run.moves] == [r.tracking_code for r in made]
    # The first report was free (and moved, for everyone) while the second and the third were written.
    assert seen == [
        (made[0].tracking_code, True, "R2"),
        (made[0].tracking_code, True, "R2"),
        (made[1].tracking_code, True, "R2"),
    ]


@contextmanager
def _held_elsewhere(report: Report) -> Iterator[None]:
    """The report locked by a transaction on another connection while the block runs."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                Report.objects.select_for_update().get(pk=report.pk)
                held.set()
                release.wait(15)
        finally:
            connection.close()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert held.wait(10)
    try:
        yield
    finally:
        release.set()
        holder.join(10)


@pytest.mark.django_db(transaction=True)
def test_a_report_held_by_another_write_is_skipped_after_the_lock_timeout(city, boundary_set_factory):
    made = _moving_reports(city, 3)
    _shrink_r1(boundary_set_factory)
    with _held_elsewhere(made[1]):  # a citizen's long write to the second report (a photo upload, say)
        started = time.monotonic()
        run = reroute_run(commit=True, lock_timeout_ms=300)
        took = time.monotonic() - started
    assert took < 5, took
    assert run.skipped == [made[1].tracking_code]
    assert sorted(m.tracking_code for m in run.moves) == sorted(
        [made[0].tracking_code, made[2].tracking_code]
    )
    assert Report.objects.get(pk=made[1].pk).district.code == "R1"
    assert ReportEvent.objects.filter(kind=ReportEvent.Kind.REROUTED).count() == 2

    # The next run moves it.
    out = _command("reroute", "--commit")
    assert made[1].tracking_code in out and "skipped" not in out
    assert Report.objects.get(pk=made[1].pk).district.code == "R2"


@pytest.mark.django_db(transaction=True)
def test_the_command_lists_the_reports_it_skipped(city, boundary_set_factory):
    made = _moving_reports(city, 2)
    _shrink_r1(boundary_set_factory)
    with _held_elsewhere(made[0]):
        out = _command("reroute", "--commit", "--lock-timeout", "0.2")
    assert "2 report(s) in the changed area routed again." in out
    assert (
        f"1 report(s) skipped: another write held them longer than 0.2 s. Run again to move them: {made[0].tracking_code}"
        in out
    )
    assert "1 report(s) re-routed" in out


def _command(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()
