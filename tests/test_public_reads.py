"""The public lists at any size (issue 9, "Every public read stays fast as the archive grows"):
`GET /api/reports/` and Open311 `GET requests` page by cursor (no report missed or shown twice while
new ones arrive, forwards and back), count up to a cap and say so, refuse a bad cursor or a deep page
by number with a clear 400, keep their filters along the way, and never show contact details.
Real PostGIS, the conftest's `city`."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from issues import cursor as cursor_module
from issues.cursor import PageCursor, cursor_decode, cursor_encode
from issues.events import note_event, status_changed_event
from issues.models import Report, ReportEvent, ReportStatus
from issues.services.submission import report_submit
from tests.conftest import pt

LIST_URL = "/api/reports/"
OPEN311 = "/open311/v2/requests"
NAME, PHONE, EMAIL = "Zerrin Mavlutova", "09125550177", "zerrin.mavlutova@example.org"


@pytest.fixture(autouse=True)
def _no_limits(settings, tmp_path):
    settings.OPEN137_RATE_REPORTS = ""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.OPEN137_CITY = "qazvin"


@pytest.fixture
def client() -> APIClient:
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


def _submit(city, description: str = "چاله", *, category=None, point: str = "s11", **contact) -> Report:
    lon, lat = getattr(city.points, point)
    return report_submit(
        category=category or city.pothole, location=pt(lon, lat), description=description, **contact
    ).report


def _archive(city, n: int, *, start_days_ago: float = 30.0) -> list[Report]:
    """`n` reports an hour apart (the newest last), with three sharing one instant (ties broken by id),
    and contact details on every one (they must never show)."""
    made = [
        _submit(city, f"گزارش {i}", reporter_name=NAME, reporter_phone=PHONE, reporter_email=EMAIL)
        for i in range(n)
    ]
    start = timezone.now() - timedelta(days=start_days_ago)
    for i, report in enumerate(made):
        Report.objects.filter(pk=report.pk).update(created_at=start + timedelta(hours=i))
    tie = start + timedelta(hours=5)
    Report.objects.filter(pk__in=[r.pk for r in made[5:8]]).update(created_at=tie)
    return made


def _newest_first(reports) -> list[str]:
    rows = Report.objects.filter(pk__in=[r.pk for r in reports]).order_by("-created_at", "-id")
    return list(rows.values_list("tracking_code", flat=True))


def _get(client, url: str, **params):
    response = client.get(url, params)
    return response, json.loads(response.content)


def _follow(client, url: str):
    parts = urlsplit(url)
    return _get(client, parts.path, **{k: v[0] for k, v in parse_qs(parts.query).items()})


def _codes(body) -> list[str]:
    return [feature["id"] for feature in body["features"]]


# --- GET /api/reports/ ---------------------------------------------------------------------------------


def test_a_cursor_walk_sees_every_report_once_while_new_ones_arrive(city, client):
    archive = _archive(city, 23)
    expected = _newest_first(archive)
    response, body = _get(client, LIST_URL, page_size=5)
    assert response.status_code == 200
    assert body["count"] == 23 and body["count_capped"] is False and body["previous"] is None
    pages = [_codes(body)]
    while body["next"]:
        assert "cursor=" in body["next"] and "page=" not in body["next"]
        # A citizen reports while the walk goes on: newer than the walk's start, so not in it.
        _submit(city, "تازه")
        response, body = _follow(client, body["next"])
        assert response.status_code == 200, body
        assert body["previous"] is not None
        pages.append(_codes(body))
    seen = [code for page in pages for code in page]
    assert seen == expected  # no gap, no repeat, newest first, ties in a fixed order
    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    # And back, by the `previous` links, page by page.
    back = [_codes(body)]
    while body["previous"]:
        response, body = _follow(client, body["previous"])
        assert response.status_code == 200, body
        back.append(_codes(body))
    # The same pages in reverse, then the reports that arrived meanwhile, newer than the first page.
    assert back[: len(pages)] == pages[::-1]
    arrived = Report.objects.filter(description="تازه")
    assert back[len(pages) :] == [_newest_first(arrived)] and len(arrived) == 4


def test_page_numbers_still_work_and_lead_on_by_cursor(city, client):
    archive = _archive(city, 7)
    expected = _newest_first(archive)
    response, body = _get(client, LIST_URL, page_size=3, page=2)
    assert response.status_code == 200 and _codes(body) == expected[3:6]
    assert body["count"] == 7 and body["count_capped"] is False
    assert "page=" not in body["previous"] and "cursor=" not in body["previous"]  # page 1
    response, body = _follow(client, body["next"])
    assert _codes(body) == expected[6:] and body["next"] is None


def test_the_count_stops_at_the_cap_and_says_so(city, client, monkeypatch):
    monkeypatch.setattr(cursor_module, "COUNT_CAP", 4)
    _archive(city, 6)
    _response, body = _get(client, LIST_URL, page_size=2)
    assert body["count"] == 4 and body["count_capped"] is True
    # A deep page counts the same way.
    _response, body = _follow(client, body["next"])
    assert body["count"] == 4 and body["count_capped"] is True
    # Under the cap the count is exact.
    Report.objects.filter(pk__in=Report.objects.order_by("id").values("id")[:3]).update(
        status=ReportStatus.CLOSED
    )
    _response, body = _get(client, LIST_URL, page_size=2, status="closed")
    assert body["count"] == 3 and body["count_capped"] is False


def _bad(response, body, field: str, code: str) -> None:
    assert response.status_code == 400, body
    assert body["code"] == code, body
    assert body["error"].startswith(f"{field}: ") and field in body["detail"]


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "bjE3OTk5LjE.abcdefghijklmnopqrstuvwxyz0",  # our shape, a made-up signature
        "x" * 500,
        "ب",
        "%00",
    ],
)
def test_a_bad_cursor_is_a_clear_400_with_a_code(city, client, value):
    _archive(city, 3)
    before = Report.objects.count()
    response, body = _get(client, LIST_URL, cursor=value)
    _bad(response, body, "cursor", "bad_cursor")
    assert "first page" in body["error"]
    assert Report.objects.count() == before


def test_a_tampered_cursor_is_refused(city, client):
    archive = _archive(city, 4)
    _response, body = _get(client, LIST_URL, page_size=2)
    good = parse_qs(urlsplit(body["next"]).query)["cursor"][0]
    token, signature = good.rsplit(".", 1)
    # Another position with the signature of the first: not ours.
    other = cursor_encode(PageCursor(archive[0].created_at, archive[0].pk)).rsplit(".", 1)[0]
    for forged in (f"{other}.{signature}", f"{token}.{signature[::-1]}", token):
        response, body = _get(client, LIST_URL, cursor=forged)
        _bad(response, body, "cursor", "bad_cursor")


def test_a_cursor_with_a_page_number_is_a_400(city, client):
    _response, body = _get(client, LIST_URL, page_size=1)
    _archive(city, 2)
    _response, body = _get(client, LIST_URL, page_size=1)
    cursor = parse_qs(urlsplit(body["next"]).query)["cursor"][0]
    response, body = _get(client, LIST_URL, cursor=cursor, page=2)
    _bad(response, body, "cursor", "cursor_with_page")


def test_a_deep_page_by_number_points_to_the_cursor(city, client):
    response, body = _get(client, LIST_URL, page_size=1000, page=11)
    _bad(response, body, "page", "page_too_deep")
    assert "next" in body["error"] and "cursor" in body["error"]
    response, body = _get(client, LIST_URL, page_size=100, page=101)
    _bad(response, body, "page", "page_too_deep")
    # The last page by number that is still served.
    response, body = _get(client, LIST_URL, page_size=1000, page=10)
    assert response.status_code == 200 and body["features"] == []


def test_filters_hold_along_the_cursor_walk(city, client):
    archive = _archive(city, 12)
    closed = archive[::3]
    Report.objects.filter(pk__in=[r.pk for r in closed]).update(status=ReportStatus.CLOSED)
    in_r2 = [_submit(city, "منطقه دو", point="r2") for _ in range(3)]
    suggestion = _submit(city, "پیشنهاد", category=city.suggestion)
    open_potholes = [r for r in archive if r not in closed]
    walks = {
        "open potholes": ({"status": "open", "category": "pothole", "district": "R1"}, open_potholes),
        "closed": ({"status": "closed"}, closed),
        "region two": ({"district": "R2"}, in_r2),
        "words": ({"q": "گزارش"}, archive),
        "suggestions": ({"category": "suggestion"}, [suggestion]),
    }
    for label, (filters, expected) in walks.items():
        response, body = _get(client, LIST_URL, page_size=2, **filters)
        assert response.status_code == 200, (label, body)
        assert body["count"] == len(expected), label
        seen = _codes(body)
        while body["next"]:
            query = parse_qs(urlsplit(body["next"]).query)
            assert {k: v[0] for k, v in query.items() if k in filters} == filters, label
            _response, body = _follow(client, body["next"])
            seen += _codes(body)
        assert seen == _newest_first(expected), label


def test_a_cursor_made_elsewhere_round_trips():
    moment = timezone.now().replace(microsecond=123456)
    for backward in (False, True):
        key = PageCursor(moment, 987654321, backward)
        text = cursor_encode(key)
        assert re.fullmatch(r"[A-Za-z0-9_\-.:]+", text) and len(text) < 100
        assert cursor_decode(text) == key


# --- Open311 GET requests ------------------------------------------------------------------------------


def _o311_page(client, url: str, fmt: str) -> tuple[list[str], str | None, str]:
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    text = response.content.decode()
    if fmt == "json":
        codes = [r["service_request_id"] for r in json.loads(text)]
    else:
        codes = [r.findtext("service_request_id") for r in ET.fromstring(response.content)]
    links = dict(
        (rel, target) for target, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.get("Link", ""))
    )
    return [c for c in codes if c], links.get("next"), text + response.get("Link", "")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_open311_date_range_pages_by_cursor(city, client, fmt):
    archive = _archive(city, 14, start_days_ago=200)
    inside = archive[2:12]
    start = Report.objects.get(pk=inside[0].pk).created_at
    end = Report.objects.get(pk=inside[-1].pk).created_at
    query = f"start_date={start.isoformat()}&end_date={end.isoformat()}&page_size=4".replace("+", "%2B")
    codes, next_url, text = _o311_page(client, f"{OPEN311}.{fmt}?{query}", fmt)
    seen, pages = list(codes), 1
    while next_url:
        assert "start_date" in next_url and "page_size=4" in next_url
        _submit(city, "تازه")  # arriving now: outside the window anyway
        codes, next_url, more = _o311_page(client, next_url, fmt)
        seen += codes
        text += more
        pages += 1
    assert seen == _newest_first(inside) and pages == 3
    for secret in (NAME, PHONE, EMAIL, "09125550177"):
        assert secret not in text


def test_open311_bad_cursor_and_deep_page_are_400(city, client):
    response = client.get(f"{OPEN311}.json?cursor=nonsense&locale=en")
    assert response.status_code == 400
    (error,) = json.loads(response.content)
    assert error["code"] == 400 and error["description"].startswith("cursor:")
    assert "bad_cursor" in error["description"]
    response = client.get(f"{OPEN311}.xml?page=11&page_size=1000&locale=en")
    assert response.status_code == 400
    assert "cursor" in ET.fromstring(response.content).findtext("error/description")
    response = client.get(f"{OPEN311}.json?page=10&page_size=1000")
    assert response.status_code == 200


def test_open311_page_numbers_still_work(city, client):
    archive = _archive(city, 5, start_days_ago=3)
    expected = _newest_first(archive)
    codes, next_url, _text = _o311_page(client, f"{OPEN311}.json?page_size=2&page=2", "json")
    assert codes == expected[2:4]
    assert next_url is not None and "page=" not in next_url
    codes, next_url, _text = _o311_page(client, next_url, "json")
    assert codes == expected[4:] and next_url is None


# --- Open311 GET servicerequestupdates ------------------------------------------------------------------

UPDATES = "/open311/v2/servicerequestupdates"


def _updates_history(city, n: int, *, start_days_ago: float = 30.0) -> list[ReportEvent]:
    """`n` public updates an hour apart (the oldest first), alternating status changes and notes over
    three reports, three of them sharing one instant (ties broken by id); next to them the events
    the feed never shows (the creations, an internal note)."""
    reports = [
        _submit(city, f"گزارش {i}", reporter_name=NAME, reporter_phone=PHONE, reporter_email=EMAIL)
        for i in range(3)
    ]
    made = []
    for i in range(n):
        report = reports[i % 3]
        if i % 2:
            made.append(note_event(report=report, note=f"به‌روزرسانی {i}", public=True))
        else:
            made.append(
                status_changed_event(
                    report=report, from_status="received", to_status="in_progress", action="start"
                )
            )
        note_event(report=report, note=f"internal {i} {PHONE}", public=False)
    start = timezone.now() - timedelta(days=start_days_ago)
    for i, event in enumerate(made):
        ReportEvent.objects.filter(pk=event.pk).update(at=start + timedelta(hours=i))
    ReportEvent.objects.filter(pk__in=[e.pk for e in made[5:8]]).update(at=start + timedelta(hours=5))
    ReportEvent.objects.exclude(pk__in=[e.pk for e in made]).update(at=start + timedelta(hours=2))
    return made


def _oldest_first(events) -> list[str]:
    rows = ReportEvent.objects.filter(pk__in=[e.pk for e in events]).order_by("at", "id")
    return [str(pk) for pk in rows.values_list("id", flat=True)]


def _updates_page(client, url: str, fmt: str = "json") -> tuple[list[str], dict[str, str], str]:
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    if fmt == "json":
        ids = [u["update_id"] for u in json.loads(response.content)]
    else:
        root = ET.fromstring(response.content)
        assert root.tag == "service_request_updates"
        ids = [u.findtext("update_id") for u in root]
    links = dict(
        (rel, target) for target, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.get("Link", ""))
    )
    return [i for i in ids if i], links, response.content.decode() + response.get("Link", "")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_updates_walk_by_cursor_sees_every_update_once_while_new_ones_arrive(city, client, fmt):
    history = _updates_history(city, 11)
    expected = _oldest_first(history)
    ids, links, text = _updates_page(client, f"{UPDATES}.{fmt}?page_size=4", fmt)
    pages = [ids]
    arrived = []
    while "next" in links:
        assert "cursor=" in links["next"] and "page_size=4" in links["next"] and "page=" not in links["next"]
        # The city goes on working during the walk: these come after everything walked so far.
        arrived.append(note_event(report=history[0].report, note="تازه", public=True))
        ids, links, more = _updates_page(client, links["next"], fmt)
        assert "prev" in links
        pages.append(ids)
        text += more
    seen = [i for page in pages for i in page]
    # Every update once, oldest first, ties in a fixed order; the ones that arrived are at the end.
    assert seen[: len(expected)] == expected
    assert seen[len(expected) :] == _oldest_first(arrived)
    assert len(seen) == len(set(seen))
    # And back by the `prev` links, the same pages in reverse.
    back = [pages[-1]]
    while "prev" in links:
        ids, links, _more = _updates_page(client, links["prev"], fmt)
        back.append(ids)
    assert back == pages[::-1]
    for secret in (NAME, PHONE, EMAIL, "internal"):
        assert secret not in text


def test_updates_date_range_pages_by_cursor(city, client):
    history = _updates_history(city, 14, start_days_ago=200)
    inside = history[2:12]
    start = ReportEvent.objects.get(pk=inside[0].pk).at
    end = ReportEvent.objects.get(pk=inside[-1].pk).at
    query = f"start_date={start.isoformat()}&end_date={end.isoformat()}&page_size=3".replace("+", "%2B")
    ids, links, _text = _updates_page(client, f"{UPDATES}.json?{query}")
    seen, pages = list(ids), 1
    while "next" in links:
        assert "start_date" in links["next"] and "end_date" in links["next"]
        note_event(report=history[0].report, note="تازه", public=True)  # now: outside the range
        ids, links, _text = _updates_page(client, links["next"])
        seen += ids
        pages += 1
    assert seen == _oldest_first(inside) and pages == 4
    # With no dates, the last 90 days: the range 200 days ago is not in it, today's notes are.
    ids, _links, _text = _updates_page(client, f"{UPDATES}.json")
    assert set(ids).isdisjoint(_oldest_first(history)) and len(ids) == 3


def test_updates_page_numbers_still_work_then_the_cursor(city, client):
    expected = _oldest_first(_updates_history(city, 7, start_days_ago=3))
    ids, links, _text = _updates_page(client, f"{UPDATES}.json?page_size=3&page=2")
    assert ids == expected[3:6]
    assert "page=" not in links["next"] and "cursor=" in links["next"]
    ids, links, _text = _updates_page(client, links["next"])
    assert ids == expected[6:] and "next" not in links


def test_updates_bad_cursor_deep_page_and_foreign_cursor_are_400(city, client):
    _updates_history(city, 4, start_days_ago=2)
    before = ReportEvent.objects.count()
    for bad in ("nonsense", "x" * 500, "ب"):
        response = client.get(f"{UPDATES}.json", {"cursor": bad, "locale": "en"})
        assert response.status_code == 400
        (error,) = json.loads(response.content)
        assert error["description"].startswith("cursor:") and "bad_cursor" in error["description"]
    # A cursor of the requests list is not one of the feed's (and the other way round).
    _codes_, requests_next, _text = _o311_page(client, f"{OPEN311}.json?page_size=1", "json")
    assert requests_next is not None
    requests_cursor = parse_qs(urlsplit(requests_next).query)["cursor"][0]
    response = client.get(f"{UPDATES}.json", {"cursor": requests_cursor, "locale": "en"})
    assert response.status_code == 400 and b"bad_cursor" in response.content
    _ids, links, _text = _updates_page(client, f"{UPDATES}.json?page_size=1")
    updates_cursor = parse_qs(urlsplit(links["next"]).query)["cursor"][0]
    response = client.get(f"{OPEN311}.json", {"cursor": updates_cursor, "locale": "en"})
    assert response.status_code == 400 and b"bad_cursor" in response.content
    # With a page number too: 400.
    response = client.get(f"{UPDATES}.json", {"cursor": updates_cursor, "page": "2", "locale": "en"})
    assert response.status_code == 400
    # Too deep by number: 400 in the asked format, pointing to the Link header.
    response = client.get(f"{UPDATES}.xml?page=11&page_size=1000&locale=en")
    assert response.status_code == 400
    description = ET.fromstring(response.content).findtext("error/description")
    assert description.startswith("page:") and "Link" in description and "updates" in description
    response = client.get(f"{UPDATES}.json?page=10&page_size=1000")
    assert response.status_code == 200 and json.loads(response.content) == []
    assert ReportEvent.objects.count() == before


# --- No contact data, anywhere -------------------------------------------------------------------------


def test_no_page_of_any_list_carries_contact_details(city, client):
    _archive(city, 6, start_days_ago=2)
    _response, body = _get(client, LIST_URL, page_size=2)
    answers = [json.dumps(body, ensure_ascii=False)]
    while body["next"]:
        _response, body = _follow(client, body["next"])
        answers.append(json.dumps(body, ensure_ascii=False))
    for fmt in ("json", "xml"):
        _codes_, next_url, text = _o311_page(client, f"{OPEN311}.{fmt}?page_size=2&extensions=true", fmt)
        answers.append(text)
        while next_url:
            _codes_, next_url, text = _o311_page(client, next_url, fmt)
            answers.append(text)
    everything = "\n".join(answers)
    assert "گزارش 0" in everything  # the pages were read
    for secret in (NAME, PHONE, EMAIL, "+989125550177", "reporter_"):
        assert secret not in everything


@pytest.mark.django_db
def test_the_public_list_indexes_exist():
    """What keeps a page's cost flat (issues/migrations/0015): if one is dropped, the bench's
    `public_reads_scaling` would catch it late; this catches it now."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'issues_report'")
        names = {row[0] for row in cursor.fetchall()}
    assert {
        "report_public_recent",
        "report_public_open",
        "report_status_recent",
        "report_category_recent",
        "report_description_trgm",
        "report_district_inbox",
    } <= names
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'issues_reportevent'")
        assert "event_public_feed" in {row[0] for row in cursor.fetchall()}
