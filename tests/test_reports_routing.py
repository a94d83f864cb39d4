# mypy: disable-error-code="union-attr"
"""Creating reports (routing stored on the report) and re-routing open reports after boundary changes."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from districts.models import DistrictLevel, RoutingRule
from districts.services import boundary_set_activate, district_create
from issues.models import Report, ReportEvent, ReportStatus
from issues.services import (
    TRACKING_ALPHABET,
    TRACKING_LENGTH,
    report_create,
    reports_reroute,
    tracking_code_new,
)
from tests.conftest import D, metres_per_degree_lon, pt, rect

# --- report_create ---------------------------------------------------------------------------------


def test_report_create_stores_its_routing_and_a_created_event(city):
    report = report_create(category=city.pothole, location=pt(*city.points.r2), description="چاله بزرگ")
    report.refresh_from_db()
    assert report.district == city.districts["R2"]
    assert report.service_area == city.areas.r2
    assert report.routing_rule == RoutingRule.COVERS
    assert report.routing_distance_m == 0
    assert report.routed_at is not None
    assert report.status == ReportStatus.RECEIVED
    assert report.kind == city.pothole.kind
    assert report.city == "qazvin"
    events = list(report.events.all())
    assert [e.kind for e in events] == [ReportEvent.Kind.CREATED]
    assert events[0].to_status == ReportStatus.RECEIVED
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


# --- The `reroute` management command (written in parallel; tested when it exists) ----------------------

REROUTE_COMMAND = Path(__file__).resolve().parent.parent / "issues" / "management" / "commands" / "reroute.py"


@pytest.mark.skipif(
    not REROUTE_COMMAND.is_file(), reason="issues/management/commands/reroute.py not written yet"
)
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
