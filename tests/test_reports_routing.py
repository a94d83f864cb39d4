# mypy: disable-error-code="union-attr"
"""Creating reports (routing stored on the report) and re-routing open reports after boundary changes."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.gis.geos import Polygon
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from districts.importing import boundary_import
from districts.models import BoundarySet, District, DistrictLevel, RoutingRule, ServiceArea
from districts.services import boundary_set_activate, district_create, district_update, service_area_save
from issues.models import Report, ReportEvent, ReportStatus
from issues.services.intake import report_create
from issues.services.reroute import reports_reroute, reroute_candidate_ids
from issues.services.tracking import TRACKING_ALPHABET, TRACKING_LENGTH, tracking_code_new
from tests.conftest import D, metres_per_degree_lon, pt, rect

# --- report_create ---------------------------------------------------------------------------------


def test_report_create_stores_its_routing_and_a_created_event(city):
    before = timezone.now()
    report = report_create(category=city.pothole, location=pt(*city.points.r2), description="چاله بزرگ")
    after = timezone.now()
    report.refresh_from_db()
    assert report.district == city.districts["R2"]
    assert report.service_area == city.areas.r2
    assert report.routing_rule == RoutingRule.COVERS
    assert report.routing_distance_m == 0
    assert before <= report.routed_at <= after
    assert report.status == ReportStatus.FORWARDED  # routed to a unit: in its inbox at once
    assert report.kind == city.pothole.kind
    assert report.city == "qazvin"
    events = list(report.events.all())
    assert [e.kind for e in events] == [ReportEvent.Kind.CREATED]
    assert (events[0].from_status, events[0].to_status) == (ReportStatus.RECEIVED, ReportStatus.FORWARDED)
    assert events[0].data["routing"] == {
        "district": "R2",
        "service_area": "roads-r2",
        "rule": "covers",
        "distance_m": 0.0,
    }


def test_report_near_the_city_is_flagged_nearest_with_its_distance(city):
    report = report_create(category=city.pothole, location=pt(50.0415, 36.27))
    report.refresh_from_db()
    assert (report.district.code, report.service_area.code) == ("R2", "roads-r2")
    assert report.routing_rule == RoutingRule.NEAREST
    assert report.routing_distance_m == pytest.approx(0.0015 * metres_per_degree_lon(36.27), rel=0.01)


def test_report_far_outside_goes_to_triage(city):
    report = report_create(category=city.pothole, location=pt(50.2, 36.27))
    report.refresh_from_db()
    assert (report.district, report.service_area, report.routing_rule) == (None, None, RoutingRule.TRIAGE)
    assert Report.objects.filter(routing_rule=RoutingRule.TRIAGE).count() == 1


def test_location_required_without_location_writes_nothing(city):
    with pytest.raises(ValidationError) as excinfo:
        report_create(category=city.pothole, location=None)
    assert "location" in excinfo.value.message_dict
    assert Report.objects.count() == 0
    assert ReportEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "nonsense"),
        ("reporter_email", "not an address"),
        ("address", "x" * 301),
        ("channel", "pigeon"),
    ],
)
def test_what_a_caller_passes_is_checked_by_the_model_and_nothing_is_written(city, field, value):
    """report_submit holds a submission to issues.validation first; other callers (an import, the
    demo) still get the model's own checks of what they pass in."""
    with pytest.raises(ValidationError) as excinfo:
        report_create(category=city.pothole, location=pt(*city.points.r1), **{field: value})
    assert field in excinfo.value.message_dict
    assert Report.objects.count() == 0
    assert ReportEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_report_whose_event_cannot_be_written_is_not_written_either(city, monkeypatch):
    """Outside any transaction (a report with no photo and no contact, as most are), the report and
    its `created` event are one statement: if the event fails, the report is not left without its
    history. Here the event's data holds a NUL, which PostgreSQL's jsonb refuses."""
    from django.db import DataError, connection

    from issues import events

    monkeypatch.setattr(events, "routing_data", lambda routing: {"rule": "\x00"})
    assert not connection.in_atomic_block
    with pytest.raises(DataError):
        report_create(category=city.pothole, location=pt(*city.points.r1))
    assert Report.objects.count() == 0
    assert ReportEvent.objects.count() == 0
    monkeypatch.undo()
    report = report_create(category=city.pothole, location=pt(*city.points.r1))
    assert list(report.events.values_list("kind", flat=True)) == [ReportEvent.Kind.CREATED]


@pytest.mark.django_db(transaction=True)
def test_a_tracking_code_clash_outside_any_transaction_is_retried(city, monkeypatch):
    """Most submissions (no photo, no contact) are written in autocommit, without a savepoint: a
    clash of tracking codes is retried there too, and leaves one report with one event."""
    from django.db import connection

    from issues.services import submission, tracking

    taken = report_create(category=city.pothole, location=pt(*city.points.r1)).tracking_code
    codes = iter([taken, "QQQQRRRR"])
    monkeypatch.setattr(tracking, "tracking_code_new", lambda: next(codes))
    assert not connection.in_atomic_block
    submitted = submission.report_submit(category=city.pothole, location=pt(*city.points.r2))
    assert submitted.report.tracking_code == "QQQQRRRR"
    assert Report.objects.count() == 2
    assert ReportEvent.objects.filter(report=submitted.report).count() == 1


def test_insert_sql_stamps_the_times_it_writes_and_compiles_other_expressions_each_time(city):
    """open137.db.insert_sql: the report's times on the object are the ones in the row (whether the
    statement is built or taken from its cache), and a value that is an expression other than RawSQL
    is never served another expression's statement."""
    from django.db.models import Value
    from django.db.models.functions import Lower, Upper

    from open137 import db

    db._INSERT_SQL.clear()
    for _attempt in range(2):  # built, then from the cache
        report = report_create(category=city.pothole, location=pt(*city.points.r1))
        stored = Report.objects.get(pk=report.pk)
        assert (report.created_at, report.updated_at) == (stored.created_at, stored.updated_at)
    lower = ReportEvent(report=report, kind=ReportEvent.Kind.NOTE, actor_label=Lower(Value("ABC")))
    upper = ReportEvent(report=report, kind=ReportEvent.Kind.NOTE, actor_label=Upper(Value("abc")))
    assert "LOWER" in db.insert_sql(lower)[0] and "UPPER" in db.insert_sql(upper)[0]


def test_suggestion_without_location_goes_to_the_default_unit(city):
    report = report_create(category=city.suggestion, location=None, description="پیشنهاد")
    report.refresh_from_db()
    assert report.location is None
    assert report.district is None
    assert report.service_area == city.areas.central
    assert report.routing_rule == RoutingRule.CATEGORY
    assert report.kind == "suggestion"
    assert report.events.get().data["routing"]["rule"] == "category"


def test_tracking_codes_use_only_the_unambiguous_alphabet(city):
    for confusable in "0O1IL2Z5S8B":
        assert confusable not in TRACKING_ALPHABET
    codes = {tracking_code_new() for _ in range(2000)}
    assert len(codes) > 1990  # random, not a counter or a constant
    pattern = re.compile(f"[{TRACKING_ALPHABET}]{{{TRACKING_LENGTH}}}")
    assert all(pattern.fullmatch(code) for code in codes)
    # Every letter turns up in every position: the whole code space is drawn from, not a corner of it.
    for position in range(TRACKING_LENGTH):
        assert {code[position] for code in codes} == set(TRACKING_ALPHABET)
    reports = [report_create(category=city.pothole, location=pt(*city.points.r1)) for _ in range(20)]
    assert all(pattern.fullmatch(r.tracking_code) for r in reports)
    assert len({r.tracking_code for r in reports}) == 20


# --- reports_reroute ---------------------------------------------------------------------------------

# Points in the standard city (R1 lon 50.00-50.02, R2 lon 50.02-50.04).
MOVING = (50.018, 36.275)  # R1 today; R2 after R1 shrinks to lon 50.015
STAYING_R1 = (50.012, 36.275)
STAYING_R2 = (50.03, 36.275)
CLOSED_MOVING = (50.019, 36.272)


@pytest.fixture
def reports(city):
    made = {
        "moving": report_create(category=city.pothole, location=pt(*MOVING)),
        "staying_r1": report_create(category=city.pothole, location=pt(*STAYING_R1)),
        "staying_r2": report_create(category=city.pothole, location=pt(*STAYING_R2)),
        "in_s11": report_create(category=city.pothole, location=pt(*city.points.s11)),
        "closed": report_create(category=city.pothole, location=pt(*CLOSED_MOVING)),
        "no_location": report_create(category=city.suggestion, location=None),
    }
    Report.objects.filter(pk=made["closed"].pk).update(status=ReportStatus.CLOSED)
    for report in made.values():
        report.refresh_from_db()
    assert made["moving"].district.code == "R1"
    assert made["closed"].district.code == "R1"
    return made


@pytest.fixture
def r1_shrinks(city, boundary_set_factory, reports):
    """A new boundary set, activated: R1 shrinks to lon 50.00-50.015 and R2 grows to match."""
    return boundary_set_factory(
        [
            D("R1", rect(50.00, 36.26, 50.015, 36.28)),
            D("R2", rect(50.015, 36.26, 50.04, 36.28)),
            D("S11", rect(50.005, 36.265, 50.01, 36.27), level=DistrictLevel.SUB_DISTRICT, parent="R1"),
        ],
        name="city v2",
    )


def _snapshot():
    return {
        r.pk: (r.district_id, r.service_area_id, r.routing_rule, r.routed_at, r.updated_at)
        for r in Report.objects.all()
    }


def test_reroute_dry_run_lists_the_moves_and_writes_nothing(reports, r1_shrinks):
    before = _snapshot()
    events_before = ReportEvent.objects.count()
    moves = reports_reroute(commit=False)
    assert [m.tracking_code for m in moves] == [reports["moving"].tracking_code]
    move = moves[0]
    assert (move.from_district, move.to_district) == ("R1", "R2")
    assert (move.from_service_area, move.to_service_area) == ("roads-r1", "roads-r2")
    assert move.rule == "covers"
    assert _snapshot() == before
    assert ReportEvent.objects.count() == events_before
    assert not ReportEvent.objects.filter(kind=ReportEvent.Kind.REROUTED).exists()


def test_reroute_commit_moves_only_the_changed_area(reports, r1_shrinks):
    before = _snapshot()
    moves = reports_reroute(commit=True)
    assert [m.tracking_code for m in moves] == [reports["moving"].tracking_code]

    moved = Report.objects.get(pk=reports["moving"].pk)
    assert moved.district == r1_shrinks["R2"]  # the new set's R2 row
    assert moved.service_area.code == "roads-r2"
    assert moved.routing_rule == RoutingRule.COVERS
    assert moved.routed_at > reports["moving"].routed_at
    event = moved.events.get(kind=ReportEvent.Kind.REROUTED)
    assert event.actor_label == "reroute"
    assert event.data["from"] == {"district": "R1", "service_area": "roads-r1"}
    assert event.data["routing"]["district"] == "R2"
    assert event.data["routing"]["service_area"] == "roads-r2"
    assert (event.from_status, event.to_status) == (moved.status, moved.status)

    after = _snapshot()
    for name in ("staying_r1", "staying_r2", "in_s11", "no_location", "closed"):
        pk = reports[name].pk
        assert after[pk] == before[pk], name  # untouched: district row, routed_at, updated_at
    assert Report.objects.get(pk=reports["closed"].pk).district.code == "R1"  # closed keeps its history
    assert ReportEvent.objects.filter(kind=ReportEvent.Kind.REROUTED).count() == 1

    # Once applied, a second run has nothing left to do.
    assert reports_reroute(commit=True) == []
    assert ReportEvent.objects.filter(kind=ReportEvent.Kind.REROUTED).count() == 1


def test_reroute_without_boundary_changes_does_nothing(reports):
    before = _snapshot()
    assert reports_reroute(commit=True) == []
    assert _snapshot() == before


def test_new_sub_district_captures_the_open_reports_in_it(city, reports):
    new_sub = district_create(
        boundary_set=city.set,
        code="S12",
        name_fa="ناحیه یک دو",
        boundary=rect(50.011, 36.27, 50.02, 36.28),
        level=DistrictLevel.SUB_DISTRICT,
        parent=city.districts["R1"],
    )
    # STAYING_R1 (50.012, 36.275), MOVING (50.018, 36.275) are in it; CLOSED_MOVING is in it but closed.
    before = _snapshot()
    dry = reports_reroute(commit=False)
    expected = {reports["moving"].tracking_code, reports["staying_r1"].tracking_code}
    assert {m.tracking_code for m in dry} == expected
    assert all((m.from_district, m.to_district) == ("R1", "S12") for m in dry)
    # Same unit (S12 has none of its own, its region's unit takes it): the district changes all the same.
    assert all(m.from_service_area == m.to_service_area == "roads-r1" for m in dry)
    assert _snapshot() == before

    moves = reports_reroute(commit=True)
    assert {m.tracking_code for m in moves} == expected
    for name in ("moving", "staying_r1"):
        assert Report.objects.get(pk=reports[name].pk).district == new_sub
    after = _snapshot()
    for name in ("staying_r2", "in_s11", "closed", "no_location"):
        assert after[reports[name].pk] == before[reports[name].pk], name


def test_triage_report_is_picked_up_when_a_district_grows_to_it(city, boundary_set_factory):
    outside = report_create(category=city.pothole, location=pt(50.05, 36.27))
    assert outside.routing_rule == RoutingRule.TRIAGE
    boundary_set_factory(
        [D("R1", rect(50.00, 36.26, 50.02, 36.28)), D("R2", rect(50.02, 36.26, 50.06, 36.28))], name="v2"
    )
    moves = reports_reroute(commit=True)
    assert [(m.tracking_code, m.from_district, m.to_district) for m in moves] == [
        (outside.tracking_code, None, "R2")
    ]
    outside.refresh_from_db()
    assert (outside.district.code, outside.routing_rule) == ("R2", RoutingRule.COVERS)


def test_new_snow_zone_moves_reports_of_its_department_only(city, reports, service_area_factory):
    service_area_factory(city.roads, "roads-north-zone", boundary=rect(50.00, 36.274, 50.04, 36.28))
    moves = reports_reroute(commit=True)
    # MOVING, STAYING_R1, STAYING_R2 lie in the zone (lat 36.275); the others do not; the district stays.
    assert {m.tracking_code for m in moves} == {
        reports[name].tracking_code for name in ("moving", "staying_r1", "staying_r2")
    }
    assert all(m.to_service_area == "roads-north-zone" and m.from_district == m.to_district for m in moves)


# --- The `reroute` management command ---------------------------------------------------------------------


def test_reroute_command_dry_run_then_commit(reports, r1_shrinks):
    before = _snapshot()
    out = StringIO()
    call_command("reroute", stdout=out)
    assert reports["moving"].tracking_code in out.getvalue()
    assert reports["staying_r1"].tracking_code not in out.getvalue()
    assert _snapshot() == before
    assert not ReportEvent.objects.filter(kind=ReportEvent.Kind.REROUTED).exists()

    out = StringIO()
    call_command("reroute", "--commit", stdout=out)
    line = next(line for line in out.getvalue().splitlines() if reports["moving"].tracking_code in line)
    assert "R1" in line and "R2" in line
    assert Report.objects.get(pk=reports["moving"].pk).district == r1_shrinks["R2"]
    assert ReportEvent.objects.filter(kind=ReportEvent.Kind.REROUTED).count() == 1


def test_activating_the_old_set_again_moves_the_report_back(reports, r1_shrinks, city):
    reports_reroute(commit=True)
    boundary_set_activate(boundary_set=city.set)
    moves = reports_reroute(commit=True)
    # The old set's districts were not redrawn after the reports were routed, but MOVING is no longer
    # covered by an active district of the code it was routed to.
    assert [(m.tracking_code, m.to_district) for m in moves] == [(reports["moving"].tracking_code, "R1")]
    assert Report.objects.get(pk=reports["moving"].pk).district == city.districts["R1"]


# --- Re-routing only the changed area: imports, candidates, service areas --------------------------------


def _region_file(tmp_path: Path, name: str, r1: Polygon, r2: Polygon) -> Path:
    """R1 and R2 as a GeoJSON file of regions, the way a GIS office would send them."""
    features = [
        {
            "type": "Feature",
            "properties": {"code": code, "name": f"منطقه {code}", "name_en": f"Region {code}"},
            "geometry": json.loads(polygon.geojson),
        }
        for code, polygon in (("R1", r1), ("R2", r2))
    ]
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def _import_regions(path: Path) -> None:
    boundary_import(
        path=path, code_field="code", name_field="name", name_en_field="name_en", level=1, commit=True
    )


def _rerouted_ids() -> set[int]:
    return set(ReportEvent.objects.filter(kind=ReportEvent.Kind.REROUTED).values_list("report_id", flat=True))


def _ids(reports, *names):
    return sorted(reports[name].pk for name in names)


@pytest.fixture
def outside(city):
    """A report near the city (rule `nearest`, to R2) and one far outside it (137 triage)."""
    near = report_create(category=city.pothole, location=pt(50.0415, 36.27))
    far = report_create(category=city.pothole, location=pt(50.2, 36.27))
    assert (near.routing_rule, far.routing_rule) == (RoutingRule.NEAREST, RoutingRule.TRIAGE)
    return SimpleNamespace(near=near, far=far)


def test_identical_reimport_makes_no_candidate_and_no_move(city, reports, outside, tmp_path):
    before = _snapshot()
    stamps = dict(District.objects.filter(boundary_set=city.set).values_list("code", "boundary_updated_at"))
    _import_regions(
        _region_file(
            tmp_path, "same.geojson", rect(50.00, 36.26, 50.02, 36.28), rect(50.02, 36.26, 50.04, 36.28)
        )
    )
    new_set = BoundarySet.objects.get(active=True)
    assert new_set != city.set
    # The imported regions and the copied sub-district are the same drawings: they keep their stamps.
    assert dict(new_set.districts.values_list("code", "boundary_updated_at")) == stamps

    assert reroute_candidate_ids() == []
    assert reports_reroute(commit=False) == []
    assert reports_reroute(commit=True) == []
    assert _snapshot() == before
    assert not _rerouted_ids()


def test_district_shrink_moves_exactly_the_reports_in_the_lost_strip(city, reports, outside, tmp_path):
    before = _snapshot()
    s11_stamp = city.districts["S11"].boundary_updated_at
    _import_regions(
        _region_file(
            tmp_path, "v2.geojson", rect(50.00, 36.26, 50.015, 36.28), rect(50.015, 36.26, 50.04, 36.28)
        )
    )
    new_set = BoundarySet.objects.get(active=True)
    assert new_set.districts.get(code="S11").boundary_updated_at == s11_stamp  # copied unchanged
    assert new_set.districts.get(code="R1").boundary_updated_at > s11_stamp  # redrawn

    # Only the strip lon 50.015-50.02 changed district: MOVING is the one open report in it.
    assert reroute_candidate_ids() == [reports["moving"].pk]
    with CaptureQueriesContext(connection) as queries:
        moves = reports_reroute(commit=True)
    assert [(m.tracking_code, m.from_district, m.to_district) for m in moves] == [
        (reports["moving"].tracking_code, "R1", "R2")
    ]
    # Only the moving report was locked.
    locking = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    assert len(locking) == 1
    assert re.findall(r"IN \(([\d, ]+)\)", locking[0]) == [str(reports["moving"].pk)]

    after = _snapshot()
    assert after[reports["moving"].pk][3] > before[reports["moving"].pk][3]
    for pk in set(before) - {reports["moving"].pk}:
        assert after[pk] == before[pk]  # routed_at and updated_at too
    assert _rerouted_ids() == {reports["moving"].pk}
    assert reroute_candidate_ids() == []


def test_candidates_of_a_shrink_in_a_new_set_built_with_the_services(reports, r1_shrinks):
    # The factory does not say which districts are unchanged (new stamps everywhere): the rule is
    # geometric all the same, so only the strip is a candidate.
    assert reroute_candidate_ids() == [reports["moving"].pk]


def test_outside_reports_are_candidates_only_when_their_nearest_district_changes(
    city, outside, boundary_set_factory
):
    assert reroute_candidate_ids() == []
    # A new region R3 starts about 27 m east of the report near the city (R2 is about 135 m west of
    # it): it becomes its nearest district. The report far outside stays out of every tolerance.
    boundary_set_factory(
        [
            D("R1", rect(50.00, 36.26, 50.02, 36.28)),
            D("R2", rect(50.02, 36.26, 50.04, 36.28)),
            D("R3", rect(50.0418, 36.26, 50.06, 36.28)),
        ],
        name="v2",
    )
    assert reroute_candidate_ids() == [outside.near.pk]
    moves = reports_reroute(commit=True)
    assert [(m.tracking_code, m.from_district, m.to_district, m.rule) for m in moves] == [
        (outside.near.tracking_code, "R2", "R3", "nearest")
    ]
    assert reroute_candidate_ids() == []


def test_new_district_following_unit_takes_its_districts_reports_from_the_central_unit(
    city, reports, department_factory, service_area_factory, category_factory
):
    waste = department_factory("waste")
    central = service_area_factory(waste, "waste-central", is_default=True)
    litter = category_factory("litter", waste)
    mine = {
        "r1": report_create(category=litter, location=pt(*STAYING_R1)),
        "s11": report_create(category=litter, location=pt(*city.points.s11)),
        "r2": report_create(category=litter, location=pt(*STAYING_R2)),
    }
    assert {r.service_area for r in mine.values()} == {central}
    before = _snapshot()

    service_area_factory(waste, "waste-r1", district_code="R1")
    # Only the waste reports in R1 and its sub-district: not the waste report in R2, not the roads ones.
    assert reroute_candidate_ids() == sorted([mine["r1"].pk, mine["s11"].pk])
    moves = reports_reroute(commit=True)
    assert {(m.tracking_code, m.from_service_area, m.to_service_area) for m in moves} == {
        (mine["r1"].tracking_code, "waste-central", "waste-r1"),
        (mine["s11"].tracking_code, "waste-central", "waste-r1"),
    }
    assert all(m.from_district == m.to_district for m in moves)
    after = _snapshot()
    for pk in set(before) - {mine["r1"].pk, mine["s11"].pk}:
        assert after[pk] == before[pk]
    assert reroute_candidate_ids() == []


def test_inactive_unit_sends_its_reports_to_the_next_rule(city, reports, service_area_factory):
    s11_unit = service_area_factory(city.roads, "roads-s11", district_code="S11")
    assert [m.tracking_code for m in reports_reroute(commit=True)] == [reports["in_s11"].tracking_code]

    # The sub-district's unit closes: its report goes to the region's unit (the ancestor's).
    s11_unit.active = False
    service_area_save(service_area=s11_unit, boundary_changed=False)
    assert reroute_candidate_ids() == [reports["in_s11"].pk]
    moves = reports_reroute(commit=True)
    assert [(m.tracking_code, m.from_service_area, m.to_service_area) for m in moves] == [
        (reports["in_s11"].tracking_code, "roads-s11", "roads-r1")
    ]

    # The region's unit closes: its open reports go to the central unit; R2's stay where they are.
    before = _snapshot()
    r1_unit = ServiceArea.objects.get(code="roads-r1")
    r1_unit.active = False
    service_area_save(service_area=r1_unit, boundary_changed=False)
    assert reroute_candidate_ids() == _ids(reports, "moving", "staying_r1", "in_s11")
    assert reports_reroute(commit=False) != []
    assert _snapshot() == before  # the dry run wrote nothing
    moves = reports_reroute(commit=True)
    assert sorted((m.tracking_code, m.from_service_area, m.to_service_area) for m in moves) == sorted(
        (reports[name].tracking_code, "roads-r1", "roads-central")
        for name in ("moving", "staying_r1", "in_s11")
    )
    after = _snapshot()
    for name in ("staying_r2", "closed", "no_location"):
        assert after[reports[name].pk] == before[reports[name].pk], name


def test_unit_polygon_removed_moves_its_reports_back(city, reports, service_area_factory):
    zone = service_area_factory(
        city.roads, "roads-north-zone", district_code="S11", boundary=rect(50.00, 36.274, 50.04, 36.28)
    )
    in_zone = _ids(reports, "moving", "staying_r1", "staying_r2")
    assert reroute_candidate_ids() == sorted([*in_zone, reports["in_s11"].pk])
    reports_reroute(commit=True)
    assert all(Report.objects.get(pk=pk).service_area == zone for pk in in_zone)

    zone.boundary = None  # it keeps following S11
    service_area_save(service_area=zone)
    assert reroute_candidate_ids() == sorted([*in_zone, reports["in_s11"].pk])
    moves = reports_reroute(commit=True)
    assert {(m.tracking_code, m.to_service_area) for m in moves} == {
        (reports["moving"].tracking_code, "roads-r1"),
        (reports["staying_r1"].tracking_code, "roads-r1"),
        (reports["staying_r2"].tracking_code, "roads-r2"),
    }
    assert Report.objects.get(pk=reports["in_s11"].pk).service_area == zone  # still its unit, by S11


def test_unit_district_code_changed(city, reports):
    before = _snapshot()
    unit = city.areas.r2
    unit.district_code = "S11"
    service_area_save(service_area=unit, boundary_changed=False)
    # Its own reports (it may lose them) and the roads reports in S11 (it may take them): nothing else.
    assert reroute_candidate_ids() == _ids(reports, "staying_r2", "in_s11")
    moves = reports_reroute(commit=True)
    assert {(m.tracking_code, m.from_service_area, m.to_service_area) for m in moves} == {
        (reports["staying_r2"].tracking_code, "roads-r2", "roads-central"),
        (reports["in_s11"].tracking_code, "roads-r1", "roads-r2"),
    }
    after = _snapshot()
    for name in ("moving", "staying_r1", "closed", "no_location"):
        assert after[reports[name].pk] == before[reports[name].pk], name


def test_unit_made_the_central_unit_takes_the_reports_without_one(
    city, reports, department_factory, service_area_factory, category_factory
):
    parks = department_factory("parks")
    unit = service_area_factory(parks, "parks-r1", district_code="R1")
    tree = category_factory("tree", parks, location_required=False)
    in_r1 = report_create(category=tree, location=pt(*STAYING_R1))
    in_r2 = report_create(category=tree, location=pt(*STAYING_R2))
    nowhere = report_create(category=tree, location=None)
    assert (in_r1.service_area, in_r2.service_area, nowhere.service_area) == (unit, None, None)

    unit.is_default = True
    service_area_save(service_area=unit, boundary_changed=False)
    assert reroute_candidate_ids() == sorted([in_r1.pk, in_r2.pk, nowhere.pk])  # parks reports only
    moves = reports_reroute(commit=True)
    assert {(m.tracking_code, m.from_service_area, m.to_service_area, m.rule) for m in moves} == {
        (in_r2.tracking_code, None, "parks-r1", "covers"),
        (nowhere.tracking_code, None, "parks-r1", "category"),
    }


def test_saving_a_unit_without_a_routing_change_keeps_its_stamp(city, reports):
    unit = ServiceArea.objects.get(code="roads-r1")
    stamp = unit.changed_at
    unit.contact_phone = "028-33330000"
    unit.boundary = None
    service_area_save(service_area=unit)
    unit.refresh_from_db()
    assert unit.changed_at == stamp
    assert reroute_candidate_ids() == []


def test_admin_save_stamps_a_routing_change_only(city, reports, rf):
    from django.contrib import admin as django_admin

    from districts.admin import ServiceAreaAdmin

    model_admin = ServiceAreaAdmin(ServiceArea, django_admin.site)
    unit = ServiceArea.objects.get(code="roads-r2")
    stamp = unit.changed_at
    unit.unit_name_en = "Roads, region two"
    model_admin.save_model(rf.post("/"), unit, SimpleNamespace(changed_data=["unit_name_en"]), True)
    unit.refresh_from_db()
    assert unit.changed_at == stamp
    unit.active = False
    model_admin.save_model(rf.post("/"), unit, SimpleNamespace(changed_data=["active"]), True)
    unit.refresh_from_db()
    assert unit.changed_at > stamp
    assert reroute_candidate_ids() == _ids(reports, "staying_r2")


def test_a_report_closed_after_it_was_selected_is_not_moved(reports, r1_shrinks, monkeypatch):
    from issues.services import reroute

    select = reroute.reroute_candidate_ids

    def select_then_close() -> list[int]:
        ids = select()
        Report.objects.filter(pk=reports["moving"].pk).update(status=ReportStatus.CLOSED)
        return ids

    monkeypatch.setattr(reroute, "reroute_candidate_ids", select_then_close)
    assert reports_reroute(commit=True) == []
    assert Report.objects.get(pk=reports["moving"].pk).district.code == "R1"
    assert not _rerouted_ids()


def test_reroute_command_prints_a_unit_change(city, reports):
    unit = city.areas.r2
    unit.active = False
    service_area_save(service_area=unit, boundary_changed=False)
    out = StringIO()
    call_command("reroute", stdout=out)
    line = next(line for line in out.getvalue().splitlines() if reports["staying_r2"].tracking_code in line)
    assert "R2 -> R2" in line and "roads-r2 -> roads-central" in line
    assert "1 report(s) would move" in out.getvalue()
    call_command("reroute", "--commit", stdout=StringIO())
    assert _rerouted_ids() == {reports["staying_r2"].pk}
    out = StringIO()
    call_command("reroute", stdout=out)
    assert "No open report changes district or service area." in out.getvalue()


def test_district_saved_with_the_same_boundary_keeps_its_stamp_and_makes_no_candidate(city, reports):
    r1 = city.districts["R1"]
    stamp = r1.boundary_updated_at
    district_update(district=r1, boundary=rect(50.00, 36.26, 50.02, 36.28), population=1000)
    assert r1.boundary_updated_at == stamp
    assert reroute_candidate_ids() == []
    # Redrawn in place (smaller): only the reports it covers are looked at again; one moves.
    district_update(district=r1, boundary=rect(50.00, 36.26, 50.015, 36.28))
    assert r1.boundary_updated_at > stamp
    assert reroute_candidate_ids() == _ids(reports, "moving", "staying_r1", "in_s11")
    moves = reports_reroute(commit=True)
    assert [(m.tracking_code, m.from_district, m.to_district, m.rule) for m in moves] == [
        (reports["moving"].tracking_code, "R1", "R2", "nearest")
    ]


def test_execute_wrappers_see_the_prepared_statements_of_a_new_report(city):
    """A new report's routing and INSERT run as prepared statements beside Django's cursor; hooks
    installed with connection.execute_wrapper (monitoring, a query blocker) still see them."""
    from issues.services.submission import report_submit

    seen: list[str] = []

    def recorder(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(recorder):
        report = report_submit(category=city.pothole, location=pt(*city.points.r1)).report
    assert any("districts_districtpiece" in sql for sql in seen)  # routing
    assert any('INSERT INTO "issues_report"' in sql for sql in seen)
    assert report.district == city.districts["R1"]

    def blocker(execute, sql, params, many, context):
        raise RuntimeError("no database access here")

    with pytest.raises(RuntimeError), connection.execute_wrapper(blocker):
        report_submit(category=city.pothole, location=pt(*city.points.r2))
    assert Report.objects.count() == 1
