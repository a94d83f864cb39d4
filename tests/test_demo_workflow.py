"""The demo's staff and its sample reports in every state: each state reached through the workflow
service by the demo member of staff whose job it is; `demo_logins --json` for scripts; a second
run changes nothing."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from issues.management.commands.demo_load import DEMO_ACTOR, DEMO_STAFF, STAFF_PASSWORD
from issues.models import (
    OutboxMessage,
    Place,
    Report,
    ReportEvent,
    ReportPhoto,
    ReportStatus,
    Role,
    StaffProfile,
)
from issues.places.selectors import place_search
from tests.test_demo import fixture


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    # The work reports' after-photos go to a temporary MEDIA_ROOT, not the project's var/.
    settings.MEDIA_ROOT = tmp_path / "media"


def load(*args: str) -> str:
    out = io.StringIO()
    call_command("demo_load", *args, stdout=out)
    return out.getvalue()


def demo_reports() -> dict[str, Report]:
    keys = dict(
        ReportEvent.objects.filter(actor_label=DEMO_ACTOR, data__has_key="demo_key").values_list(
            "report_id", "data__demo_key"
        )
    )
    return {keys[r.pk]: r for r in Report.objects.filter(pk__in=keys).select_related("service_area")}


def counts() -> dict[str, int]:
    models = [Report, ReportEvent, ReportPhoto, Place, StaffProfile, OutboxMessage]
    result = {m.__name__: m._default_manager.count() for m in models}
    result["User"] = get_user_model().objects.count()
    return result


@pytest.mark.django_db(transaction=True)
def test_every_state_is_reached_through_the_workflow_by_the_demo_staff() -> None:
    out = load()
    users = {
        u.username: u for u in get_user_model().objects.filter(username__in=[m.username for m in DEMO_STAFF])
    }

    # One member of staff per role, with the published password and the demo's scope.
    profiles = {p.user.username: p for p in StaffProfile.objects.select_related("user")}
    assert {p.role for p in profiles.values()} == set(Role.values)
    assert profiles["manager_r1"].district_codes == ["R1"]
    assert profiles["unit_roads_r1"].service_area_codes == ["roads-r1"]
    assert all(u.check_password(STAFF_PASSWORD) for u in users.values())
    assert "unit_roads_r1" in out and STAFF_PASSWORD in out

    reports = demo_reports()
    specs = {s["key"]: s for s in fixture("sample_reports.json")["reports"]}
    assert set(reports) == set(specs)
    assert {r.status for r in reports.values()} == set(ReportStatus.values)

    staff_ids = {u.pk for u in users.values()}
    reached_by: dict[str, set[str]] = {}
    for key, report in reports.items():
        assert report.status == specs[key]["status"], key
        history = list(report.events.order_by("at", "id"))
        created, marker = history[0], history[1]
        assert created.kind == ReportEvent.Kind.CREATED and marker.data == {"demo_key": key}
        # What came by telephone was filed by the 137 operator.
        if specs[key]["channel"] == "phone":
            assert created.actor_id == users["operator"].pk, key
        steps = [e for e in history if e.kind == ReportEvent.Kind.STATUS]
        # Every change after intake is a status event of the service, by a demo member of staff, and
        # the last one left the report where it is.
        assert all(e.actor_id in staff_ids and e.actor_label == "" for e in steps), key
        if steps:
            assert steps[-1].to_status == report.status, key
            assert [e.from_status for e in steps[1:]] == [e.to_status for e in steps[:-1]], key
            for event in steps:
                assert event.actor is not None, key
                reached_by.setdefault(event.to_status, set()).add(event.actor.username)
        else:
            assert created.to_status == report.status, key
        # Backdated: created `age_hours` ago, its steps in order until ten minutes ago.
        age = timezone.now() - report.created_at
        assert abs(age - timedelta(hours=specs[key]["age_hours"])) < timedelta(minutes=5), key
        assert all(e.at <= timezone.now() - timedelta(minutes=9) for e in steps), key
        assert [e.at for e in history] == sorted(e.at for e in history), key

    # Every status after intake was reached by the workflow (received and forwarded come from it).
    assert set(reached_by) == set(ReportStatus.values) - {ReportStatus.RECEIVED, ReportStatus.FORWARDED}
    # The right people: the unit for its own work, the supervisor for the 137 checks.
    assert "unit_roads_r1" in reached_by[ReportStatus.ACKNOWLEDGED]
    assert "manager_r1" in reached_by[ReportStatus.ACKNOWLEDGED]
    assert reached_by[ReportStatus.VERIFIED] == reached_by[ReportStatus.REOPENED] == {"supervisor"}
    assert reached_by[ReportStatus.TRANSFERRED] == {"unit_roads_r1"}
    assert "operator" not in set().union(*reached_by.values()) and "council" not in set().union(
        *reached_by.values()
    )

    # The side exits carry what they need.
    assert reports["demo-44"].service_area is not None
    assert reports["demo-44"].service_area.code == "roads-central"
    assert reports["demo-46"].referred_to == "water"
    assert reports["demo-47"].duplicate_of_id == reports["demo-01"].pk
    assert reports["demo-01"].support_count >= 1
    # Every work report has its after-photo; the acknowledged and later carry their timestamps.
    for key, report in reports.items():
        if report.done_at is not None:
            assert ReportPhoto.objects.filter(report=report, kind=ReportPhoto.Kind.WORK).exists(), key
            assert report.created_at < report.done_at <= report.updated_at, key
        if report.status == ReportStatus.ACKNOWLEDGED:
            assert report.acknowledged_at is not None and report.created_at < report.acknowledged_at, key

    # The places of the call screen's search.
    assert Place.objects.count() == len(fixture("places_qazvin.json")["places"])
    assert place_search(text="چهلستون")[0].name_en.startswith("Chehel Sotun")


@pytest.mark.django_db(transaction=True)
def test_a_second_run_changes_nothing_and_reset_loads_the_same() -> None:
    load()
    loaded = counts()
    second = load()
    assert "nothing changed" in second
    assert counts() == loaded
    load("--reset")
    # The staff, the places, the reports with their events, photos and messages: deleted and made
    # again, the same number of each.
    assert counts() == loaded
    assert {r.status for r in demo_reports().values()} == set(ReportStatus.values)


def test_demo_logins_json_lists_every_role_with_its_scope() -> None:
    out = io.StringIO()
    call_command("demo_logins", "--json", "--base-url", "http://demo.example:8000/", stdout=out)
    logins = json.loads(out.getvalue())
    assert all(set(login) == {"username", "password", "role", "scope", "url"} for login in logins)
    by_role = {login["role"]: login for login in logins}
    assert set(by_role) == {*Role.values, "admin", "open311_client"}
    assert by_role["admin"]["username"] == "admin" and by_role["admin"]["password"] == "open137-demo"
    assert by_role["open311_client"]["password"] == "open137-demo-open311-key"
    assert by_role[Role.DISTRICT_MANAGER]["scope"] == {"districts": ["R1"], "service_areas": []}
    assert by_role[Role.UNIT_STAFF]["scope"] == {"districts": [], "service_areas": ["roads-r1"]}
    assert by_role[Role.OPERATOR]["scope"] == {"districts": [], "service_areas": []}
    for role in Role.values:
        assert by_role[role]["password"] == STAFF_PASSWORD
        assert by_role[role]["url"].startswith("http://demo.example:8000/")
    assert by_role[Role.OPERATOR]["url"].endswith("/console/call/")


def test_demo_logins_table_names_the_staff() -> None:
    out = io.StringIO()
    call_command("demo_logins", stdout=out)
    text = out.getvalue()
    for member in DEMO_STAFF:
        assert member.username in text
    assert STAFF_PASSWORD in text and "district manager" in text and "roads-r1" in text


def test_demo_load_refuses_production(settings) -> None:
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="OPEN137_PRODUCTION"):
        call_command("demo_load", stdout=io.StringIO())
