"""Text is text: what a citizen (or a staff member) types is kept exactly as typed, whichever door it
came in by, and every output shows it as text, never as live markup.

A table of hostile (and honest but awkward) strings goes in through the web form, the API and
Open311, then through the private link's "add information", a public staff note and a unit's work
report; every output that shows them is read back: the tracking page, the API's detail and list (and
DRF's browsable page of the detail), Open311's requests and servicerequestupdates in XML and JSON,
the console's report page and inbox, the CSV export, and the e-mail's HTML part. HTML pages are
parsed: the text must be a text node, and no element or attribute of the payload may exist.

The same pages in a real browser (dialogs, DOM, map popups): tests/test_hostile_text_browser.py.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.test import Client
from rest_framework.test import APIClient

from issues.models import Report, ReportEvent
from issues.open311.services import api_key_create
from issues.outbox import _email_html
from issues.services.citizen import report_add_info
from issues.validation import description_clean
from issues.workflow.services import report_transition
from tests.conftest import jpeg_upload
from tests.test_validation import _no_limits_and_tmp_media  # noqa: F401 (a fixture: no limits, media in tmp)

pytestmark = pytest.mark.django_db

# One string of 4,000 characters (the description's limit), markup and entities all along.
_LONG_UNIT = "<b>چاله</b> &amp; <i onmouseover=alert(1)>x</i> "
LONG = (_LONG_UNIT * (4000 // len(_LONG_UNIT) + 1))[:3999] + "!"
assert len(LONG) == 4000

HOSTILE = {
    "script": "<script>alert(1)</script>",
    "img-without-gt": "<img src=x onerror=alert(1)",
    "unclosed-tag": "چاله <svg/onload=alert(1) <a href=javascript:alert(1) title=x",
    "attribute-breakout": '"><svg onload=alert(1)>',
    "javascript-url": "javascript:alert(1)",
    "honest-brackets": "depth < 10 cm & > 5",
    "rtl-override": "\u202eexe.تصویر\u202c و <b dir=rtl>\u202bمتن\u202c</b>",
    "long": LONG,
    "persian-zwnj": "چاله‌های خیابان می‌شود و نمی‌گذارد رد شویم",
}
IDS = list(HOSTILE)


def _address(text: str) -> str:
    return text[:300].strip()


def _name(text: str) -> str:
    return text[:200].strip()


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.OPEN137_RATE_UPDATES = ""
    settings.OPEN137_CITY = "qazvin"
    # Seven staff accounts per test: their passwords need not cost a second each here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- Reading HTML as a browser would ---------------------------------------------------------------------


@dataclass
class Page:
    """An HTML page as parsed: its text nodes and what would be live in it."""

    texts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


_URL_ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href")


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.page.problems.append(f"<{tag} {name}=...>: an event handler")
            url = (value or "").strip().lower()
            if name in _URL_ATTRIBUTES and url.startswith("javascript:"):
                self.page.problems.append(f"<{tag} {name}={value!r}>: a javascript: URL")
        if tag == "img" and values.get("src") == "x":
            self.page.problems.append("<img src=x>: the payload's element")
        if tag == "script":
            # The pages load scripts from files and carry data in json_script blocks only.
            if not values.get("src") and values.get("type") != "application/json":
                self.page.problems.append("an inline <script>")
            self._in_script = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if not self._in_script:
            self.page.texts.append(data)


def read_html(response: Any) -> Page:
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    reader = _Reader()
    reader.feed(response.content.decode())
    reader.close()
    return reader.page


def assert_shown_as_text(response: Any, text: str, *, times: int = 1, where: str = "") -> Page:
    """`text` is on the page as a whole text node (`times` times at least), and nothing on the page
    is live markup."""
    assert response.status_code == 200, where
    page = read_html(response)
    assert page.problems == [], where
    found = sum(1 for node in page.texts if node.strip() == text)
    assert found >= times, f"{where}: {text[:60]!r} shown {found} times, expected {times}"
    if "<" in text:
        # Belt and braces: the raw string is nowhere in the bytes (it would be markup there).
        assert text not in response.content.decode(), where
    return page


# --- Putting the text in through every door -----------------------------------------------------------------


def en_client() -> Client:
    client = Client()
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def via_form(city, text: str) -> tuple[Report, str, Client]:
    """A report through the web form; returns it, its private token and the citizen's browser."""
    lon, lat = city.points.r1
    client = en_client()
    response = client.post(
        "/report/",
        {
            "category": "pothole",
            "kind": "",
            "lat": str(lat),
            "lon": str(lon),
            "place": "",
            "description": text,
            "reporter_name": _name(text),
            "reporter_phone": "",
            "reporter_email": "",
            "idempotency_key": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 302, unescape(response.content.decode())[:2000]
    code = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    thanks = unescape(client.get(f"/report/thanks/{code}/").content.decode())
    found = re.search(r"\?t=([\w-]+)", thanks)
    assert found, "the thank-you page shows the private link"
    return Report.objects.get(tracking_code=code), found.group(1), client


def via_api(city, text: str) -> Report:
    lon, lat = city.points.r1
    response = APIClient().post(
        "/api/reports/",
        {
            "category": "pothole",
            "lat": lat,
            "lon": lon,
            "description": text,
            "address": _address(text),
            "name": _name(text),
        },
        format="json",
    )
    assert response.status_code == 201, response.content.decode()[:2000]
    return Report.objects.get(tracking_code=json.loads(response.content)["code"])


def via_open311(city, key: str, text: str) -> Report:
    lon, lat = city.points.r1
    response = Client().post(
        "/open311/v2/requests.json",
        urlencode(
            {
                "api_key": key,
                "service_code": "pothole",
                "lat": str(lat),
                "long": str(lon),
                "description": text,
                "address_string": _address(text),
                "first_name": _name(text),
            }
        ),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.content.decode()[:2000]
    return Report.objects.get(tracking_code=json.loads(response.content)[0]["service_request_id"])


@pytest.fixture
def filed(city, staff):
    """For one hostile string: three reports (web form, API, Open311) carrying it in the description,
    address and name; on the web form's report, the same text added by the reporter through the
    private link, as a public staff note and as the unit's work report."""

    def make(text: str) -> SimpleNamespace:
        _api_key, key = api_key_create(name="Hostile text test")
        form, token, citizen = via_form(city, text)
        api = via_api(city, text)
        open311 = via_open311(city, key, text)
        added = citizen.post(f"/track/{form.tracking_code}/info/", {"t": token, "text": text})
        assert added.status_code == 302, unescape(added.content.decode())[:2000]
        report_transition(report=form, action="note", actor=staff.operator, note=text)
        for action in ("acknowledge", "start"):
            form.refresh_from_db()
            report_transition(report=form, action=action, actor=staff.unit_r1)
        form.refresh_from_db()
        report_transition(report=form, action="done", actor=staff.unit_r1, note=text, photos=[jpeg_upload()])
        form.refresh_from_db()
        return SimpleNamespace(text=text, form=form, api=api, open311=open311, reports=[form, api, open311])

    return make


# --- Stored as typed ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE.values(), ids=IDS)
def test_every_door_stores_the_text_as_typed(filed, text):
    f = filed(text)
    for report in f.reports:
        assert report.description == text
    assert f.form.reporter_name == _name(text)
    for report in (f.api, f.open311):
        assert report.address == _address(text)
        assert report.reporter_name == _name(text)
    public_notes = list(
        ReportEvent.objects.filter(report=f.form, public=True, note=text).values_list("kind", flat=True)
    )
    # The reporter's addition, the staff note and the work report (a status change with its text).
    assert sorted(public_notes) == sorted(
        [ReportEvent.Kind.CITIZEN_INFO, ReportEvent.Kind.NOTE, ReportEvent.Kind.STATUS]
    )


# --- The pages ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE.values(), ids=IDS)
def test_tracking_page_shows_the_text_as_text(filed, text):
    f = filed(text)
    client = en_client()
    # The description, the reporter's addition, the staff note and the work report.
    assert_shown_as_text(client.get(f"/track/{f.form.tracking_code}/"), text, times=4, where="track form")
    for report in (f.api, f.open311):
        response = client.get(f"/track/{report.tracking_code}/")
        assert_shown_as_text(response, text, where="track")
        if _address(text) != text:
            assert_shown_as_text(response, _address(text), where="track address")


@pytest.mark.parametrize("text", HOSTILE.values(), ids=IDS)
def test_console_report_page_inbox_and_csv_show_the_text_as_text(filed, staff, text):
    f = filed(text)
    client = en_client()
    client.force_login(staff.supervisor)  # the 137 centre: contact details too
    page = assert_shown_as_text(
        client.get(f"/console/reports/{f.form.tracking_code}/"), text, times=4, where="console report"
    )
    assert any(node.strip() == _name(text) for node in page.texts), "the reporter's name"
    page = assert_shown_as_text(
        client.get(f"/console/reports/{f.api.tracking_code}/"), text, where="console report (API)"
    )
    assert any(node.strip() == _address(text) for node in page.texts), "the address"
    inbox = read_html(client.get("/console/"))
    assert inbox.problems == []
    snippet = text if len(text) <= 90 else text[:89] + "…"
    assert sum(1 for node in inbox.texts if node.strip() == snippet) >= 3
    assert sum(1 for node in inbox.texts if node.strip() == _name(text)) >= 3
    # The CSV: the text as typed (none of these starts like a formula).
    response = client.get("/console/?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_code = {row["code"]: row for row in rows}
    for report in f.reports:
        row = by_code[report.tracking_code]
        assert row["description"] == text
        assert row["reporter_name"] == _name(text)
    assert by_code[f.api.tracking_code]["address"] == _address(text)


# --- The API ------------------------------------------------------------------------------------------------


def _json(response: Any, content_type: str = "application/json") -> Any:
    assert response.status_code == 200, response.content[:500]
    # Data, never a page: a browser must not sniff it into HTML.
    assert response["Content-Type"].startswith(content_type), response["Content-Type"]
    assert response["X-Content-Type-Options"] == "nosniff"
    return json.loads(response.content)


@pytest.mark.parametrize("text", HOSTILE.values(), ids=IDS)
def test_api_detail_and_list_carry_the_text_as_given(filed, text):
    f = filed(text)
    client = APIClient()
    detail = _json(client.get(f"/api/reports/{f.form.tracking_code}/", HTTP_ACCEPT="application/json"))
    assert detail["description"] == text
    notes = [event["note"] for event in detail["timeline"]]
    # JSON is data: the reporter's addition, the note and the work report as typed, not escaped.
    assert notes.count(text) == 3, notes
    detail = _json(client.get(f"/api/reports/{f.api.tracking_code}/", HTTP_ACCEPT="application/json"))
    assert detail["description"] == text and detail["address"] == _address(text)
    assert not {"name", "reporter_name"} & set(detail)  # never the reporter's contact details
    listing = _json(client.get("/api/reports/?page_size=100"), "application/geo+json")
    descriptions = {f["id"]: f["properties"]["description"] for f in listing["features"]}
    for report in f.reports:
        assert descriptions[report.tracking_code] == text


@pytest.mark.parametrize(
    "text", [HOSTILE[k] for k in ("script", "img-without-gt", "attribute-breakout", "javascript-url")]
)
def test_the_browsable_api_page_shows_the_text_as_text(filed, settings, text):
    f = filed(text)
    response = Client().get(f"/api/reports/{f.form.tracking_code}/", HTTP_ACCEPT="text/html")
    if not response["Content-Type"].startswith("text/html"):
        pytest.skip("DRF's browsable page is off (production settings)")
    page = read_html(response)
    # DRF's own page keeps its inline scripts; what matters is that the payload is not live.
    problems = [p for p in page.problems if p != "an inline <script>"]
    assert problems == []
    if "<" in text:
        assert text not in response.content.decode()
    # In the JSON shown on the page the text is a string, with its quote escaped as JSON.
    shown = json.dumps(text, ensure_ascii=False)
    assert any(shown in node for node in page.texts)


# --- Open311 ------------------------------------------------------------------------------------------------


def _xml(response: Any) -> ET.Element:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/xml")
    assert response["X-Content-Type-Options"] == "nosniff"
    root = ET.fromstring(response.content)
    # Nothing but the spec's elements: the payload's tags are text inside them.
    assert not any(e.tag in ("script", "img", "svg", "a", "b", "i") for e in root.iter())
    return root


@pytest.mark.parametrize("text", HOSTILE.values(), ids=IDS)
def test_open311_requests_and_updates_carry_the_text_as_given(filed, text):
    f = filed(text)
    client = Client()
    base = "/open311/v2/"
    requests = _json(client.get(f"{base}requests.json?extensions=true"))
    by_id = {r["service_request_id"]: r for r in requests}
    for report in f.reports:
        assert by_id[report.tracking_code]["description"] == text
    assert by_id[f.api.tracking_code]["address"] == _address(text)
    notes = [n["description"] for n in by_id[f.form.tracking_code]["notes"]]
    assert notes.count(text) == 3, notes
    root = _xml(client.get(f"{base}requests.xml?extensions=true"))
    by_id_xml = {r.findtext("service_request_id"): r for r in root.findall("request")}
    for report in f.reports:
        assert by_id_xml[report.tracking_code].findtext("description") == text
    xml_notes = [n.findtext("description") for n in by_id_xml[f.form.tracking_code].findall("notes/note")]
    assert xml_notes.count(text) == 3, xml_notes
    updates = _json(client.get(f"{base}servicerequestupdates.json"))
    mine = [u["description"] for u in updates if u["service_request_id"] == f.form.tracking_code]
    assert mine.count(text) == 3, mine
    root = _xml(client.get(f"{base}servicerequestupdates.xml"))
    mine = [
        u.findtext("description")
        for u in root.findall("request_update")
        if u.findtext("service_request_id") == f.form.tracking_code
    ]
    assert mine.count(text) == 3, mine


# --- The private link's "add information", the shared rule -------------------------------------------------


def test_added_information_follows_the_descriptions_rule(city):
    report = via_api(city, "چاله")
    event = report_add_info(report=report, text="  depth < 10 cm <b>& > 5</b>  ")
    assert event.public and event.note == "depth < 10 cm <b>& > 5</b>"
    # A NUL cannot be stored: a clear error on the field, nothing written (it used to reach the query).
    with pytest.raises(ValidationError) as refused:
        report_add_info(report=report, text="a\x00b")
    assert "text" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        report_add_info(report=report, text="x" * 4001)
    assert "text" in refused.value.message_dict
    assert ReportEvent.objects.filter(report=report, kind=ReportEvent.Kind.CITIZEN_INFO).count() == 1


@pytest.mark.parametrize("text", HOSTILE.values(), ids=IDS)
def test_the_shared_rule_accepts_every_string_and_keeps_its_limits(text):
    assert description_clean(description=text) == text
    with pytest.raises(ValidationError) as refused:
        description_clean(description=text + "x" * 4001)
    assert refused.value.code == "max_length"
    with pytest.raises(ValidationError) as refused:
        description_clean(description=text[:10] + "\x00")
    assert refused.value.code == "nul"


def test_a_nul_in_added_information_on_the_tracking_page_is_an_error_on_the_form(city):
    report, token, citizen = via_form(city, "چاله")
    response = citizen.post(f"/track/{report.tracking_code}/info/", {"t": token, "text": "a\x00b"})
    assert response.status_code == 400
    assert not ReportEvent.objects.filter(report=report, kind=ReportEvent.Kind.CITIZEN_INFO).exists()


# --- The e-mail's HTML part ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE.values(), ids=IDS)
def test_email_html_part_escapes_every_line(text):
    body = "\n".join([text, "ABCD1234", f"https://137.example.ir/track/ABCD1234/?t=x{text}", "پایان"])
    reader = _Reader()
    reader.feed(_email_html(body=body, code="ABCD1234"))
    reader.close()
    assert reader.page.problems == []
    assert text in [node.strip() for node in reader.page.texts]
