"""Reporter contact details and private tokens never reach the public.

Reports are made with a distinctive name, phone and e-mail (and a private token and an idempotency
key), then EVERY public GET endpoint in the URLconf is requested anonymously: the API under /api/,
Open311 under /open311/ (each format suffix) and the pages. None of the secrets may appear in any
answer. The endpoints are found by walking the URL resolver, not listed by hand, so an endpoint
added later is checked without anyone remembering to add it here.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest
from django.contrib.gis.geos import Point
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern

from geo.text import to_persian_digits
from issues.formats import token_hash
from issues.models import Report, ReportEvent, ReportStatus
from issues.services.citizen import report_support
from issues.services.submission import report_submit

NAME = "Quorvell Tamsby"
NAME_FA = "کوروِل تمسبی"
PHONE = "09127770123"
EMAIL = "quorvell.tamsby@example.org"
IDEMPOTENCY_KEY = "privacy-canary-7f3c1e"
PLEDGER = "Vendrick Olsaby"
PLEDGER_PHONE = "09127770456"
# Not public: Django's admin (staff only, behind a login), the language switch (a POST), files.
SKIP_PREFIXES = ("/admin/", "/i18n/", "/static/", "/media/", "/__debug__/")


def _leaves(
    resolver: URLResolver, namespaces: tuple[str, ...] = (), chain: tuple = ()
) -> Iterator[tuple[tuple[str, ...], tuple, URLPattern]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            spaces = (*namespaces, entry.namespace) if entry.namespace else namespaces
            yield from _leaves(entry, spaces, (*chain, entry.pattern))
        else:
            yield namespaces, (*chain, entry.pattern), entry


def _candidates(param: str, values: dict[str, list[str]]) -> list[str]:
    """What to put in a URL parameter, guessed from its name."""
    name = param.lower()
    if "fmt" in name or "format" in name:
        return ["json", "xml"]
    if "token" in name:
        return values["token"]
    if "service" in name and "request" not in name or "category" in name or name == "slug":
        return values["category"]
    if name.endswith("_id") and "id" in values:  # a participation point, ...
        return values["id"]
    if name in {"code", "tracking_code", "report_code", "pk", "id"} or "request" in name:
        return values["code"]
    return values["code"] + values["category"]


def _route_path(chain: tuple, kwargs: dict[str, str]) -> str | None:
    """The path of a chain of `path()` routes with `<conv:name>` filled in, or None."""
    url = "/"
    for pattern in chain:
        if not isinstance(pattern, RoutePattern):
            return None
        route = str(pattern)
        for match in re.finditer(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>", route):
            converter = pattern.converters[match["name"]]
            value = kwargs[match["name"]]
            if not re.fullmatch(converter.regex, value):
                return None
            route = route.replace(match[0], converter.to_url(value))
        url += route
    return url


def public_get_urls(values: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """Every public GET-able path of the URLconf with its parameters filled in, and the patterns
    that could not be filled (for the failure message)."""
    urls: list[str] = []
    unfilled: list[str] = []
    for namespaces, chain, leaf in _leaves(get_resolver()):
        params: list[str] = []
        for pattern in chain:
            params += [p for p in pattern.regex.groupindex if p not in params]
        positional = any(p.regex.groups > len(p.regex.groupindex) for p in chain)
        filled = False
        for combo in itertools.product(*(_candidates(p, values) for p in params)):
            kwargs = dict(zip(params, combo, strict=True))
            url = None
            if leaf.name and not positional:
                try:
                    url = reverse(":".join((*namespaces, leaf.name)), kwargs=kwargs or None)
                except NoReverseMatch:
                    url = None
            if url is None and not positional:
                url = _route_path(chain, kwargs)
            if url is not None:
                filled = True
                if not url.startswith(SKIP_PREFIXES) and url not in urls:
                    urls.append(url)
        if not filled:
            unfilled.append("".join(str(p) for p in chain))
    return urls, unfilled


@pytest.fixture
def private_reports(city, settings, tmp_path):
    settings.OPEN137_RATE_REPORTS = ""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    lon, lat = city.points.s11
    # Through the API, as a phone app would.
    creator = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = creator.post(
        "/api/reports/",
        json.dumps(
            {
                "category": "pothole",
                "lat": lat,
                "lon": lon,
                "description": "چاله عمیق کنار ایستگاه اتوبوس",
                "address": "خیابان پیروزی",
                "name": NAME,
                "phone": PHONE,
                "email": EMAIL,
                "consent_contact": True,
            }
        ),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=IDEMPOTENCY_KEY,
    )
    assert response.status_code == 201, response.content
    created = json.loads(response.content)
    # Through the service, as the web form or the 137 operators would.
    submission = report_submit(
        category=city.suggestion,
        location=None,
        description="پیشنهاد: نیمکت بیشتر در پارک",
        reporter_name=NAME_FA,
        reporter_phone=PHONE,
        reporter_email=EMAIL,
        consent_contact=True,
        attributes={},
    )
    # Four more potholes within a few metres, each with the reporter's details: with the first, a
    # hotspot (five within 50 m), so the hotspots and the heatmap answer something to scan.
    for step in range(1, 5):
        report_submit(
            category=city.pothole,
            location=Point(lon + step * 0.00005, lat, srid=4326),
            description="چاله دوباره",
            reporter_name=NAME,
            reporter_phone=PHONE,
            reporter_email=EMAIL,
            consent_contact=True,
            attributes={},
        )
    report = Report.objects.get(tracking_code=created["code"])
    report_support(report=report, fingerprint="0" * 64)
    ReportEvent.objects.create(
        report=report, kind=ReportEvent.Kind.STATUS, from_status="received", to_status="forwarded", note="ok"
    )
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.FORWARDED)
    # A citizen who pledged to fix it left a name and a number, and a salt bin stands nearby: the
    # point's page and the report's pledge box are public too.
    from participation.services import pledge_create, point_create

    Category = type(city.pothole)
    Category.objects.filter(pk=city.pothole.pk).update(citizen_doable=True)
    pledge = pledge_create(report=Report.objects.get(pk=report.pk), name=PLEDGER, contact=PLEDGER_PHONE)
    point = point_create(kind="salt_bin", name_fa="جایگاه نمک", location=Point(lon, lat, srid=4326))
    tokens = [created["private_token"], submission.private_token or "", pledge.token]
    secrets = [
        PLEDGER,
        PLEDGER_PHONE,
        NAME,
        NAME_FA,
        PHONE,
        to_persian_digits(PHONE),
        EMAIL,
        quote(EMAIL),
        IDEMPOTENCY_KEY,
        *tokens,
        *(token_hash(t) for t in tokens),
    ]
    return {
        "code": created["code"],
        "other_code": submission.report.tracking_code,
        "open311_token": report.open311_token,
        "lat": lat,
        "lon": lon,
        "secrets": [s for s in secrets if s],
        "point_id": str(point.pk),
    }


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def test_no_public_get_endpoint_shows_contact_details_or_tokens(private_reports):
    code = private_reports["code"]
    values = {
        "code": [code, private_reports["other_code"]],
        "category": ["pothole"],
        "token": [private_reports["open311_token"]],
        "id": [private_reports["point_id"]],
    }
    urls, unfilled = public_get_urls(values)
    queries = [
        "",
        "?"
        + urlencode(
            {
                "lat": private_reports["lat"],
                "lon": private_reports["lon"],
                "long": private_reports["lon"],
                "category": "pothole",
                "service_code": "pothole",
                "extensions": "true",
                "zoom": "12",
            }
        ),
        "?" + urlencode({"service_request_id": code, "extensions": "true", "q": "چاله"}),
    ]
    anonymous = Client()
    ok: set[str] = set()
    leaks: list[str] = []
    for url, query in itertools.product(urls, queries):
        for accept in ("*/*", "text/html", "application/json"):
            response = anonymous.get(url + query, HTTP_ACCEPT=accept, follow=True)
            body = _body(response)
            if response.status_code == 200:
                ok.add(url)
            leaks += [
                f"{url}{query} ({accept}): {secret!r}"
                for secret in private_reports["secrets"]
                if secret in body
            ]
    assert not leaks, "\n".join(leaks)

    # The check is only worth something if the endpoints really answered.
    point_page = f"/participation/points/{private_reports['point_id']}/"
    for must in (
        "/api/reports/",
        f"/api/reports/{code}/",
        "/api/reports/nearby/",
        "/api/categories/",
        point_page,
        "/api/participation/points/",
        "/api/heatmap/",
        "/api/hotspots/",
    ):
        assert must in ok, (must, sorted(ok))
    # ...and answered with what the reports make of them: the five potholes are one hotspot and
    # heatmap cells, so their rows were in what was scanned.
    hotspots = anonymous.get("/api/hotspots/?category=pothole").json()
    assert [f["properties"]["count"] for f in hotspots["features"]] == [5], hotspots
    heatmap = anonymous.get("/api/heatmap/?zoom=12&category=pothole").json()
    assert heatmap["count"] == 5, heatmap
    for prefix in ("/open311/", "/track/"):
        if any(u.startswith(prefix) for u in urls):
            assert any(u.startswith(prefix) for u in ok), (prefix, sorted(ok))
    if any(u.startswith("/open311/") and u.endswith(".xml") for u in urls):
        assert any(u.startswith("/open311/") and u.endswith(".xml") for u in ok), sorted(ok)
    assert len(ok) >= 6, sorted(ok)
    # Every pattern of the public prefixes was requested (or was one of the catch-alls).
    assert all(".*" in p or p.startswith(("admin/", "i18n/", "^media/", "media/")) for p in unfilled), (
        unfilled
    )


# A script, stylesheet, font, image or frame from another server (a CDN): refused everywhere. Plain
# links (<a>, <link rel="canonical">) load nothing, and the base-map tile URL is configuration.
ASSET_TAG = re.compile(r"<(script|link|iframe|img)\b[^>]*>", re.IGNORECASE)
EXTERNAL_URL = re.compile(r"""\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)
LOADING_REL = re.compile(
    r"""\brel\s*=\s*["']?[^"'>]*\b(stylesheet|preload|modulepreload|preconnect|icon)\b""", re.I
)


def test_no_public_page_loads_assets_from_another_server(private_reports):
    values = {
        "code": [private_reports["code"]],
        "category": ["pothole"],
        "token": [private_reports["open311_token"]],
        "id": [private_reports["point_id"]],
    }
    urls, _unfilled = public_get_urls(values)
    offenders = []
    anonymous = Client()
    for url in urls:
        response = anonymous.get(url, HTTP_ACCEPT="text/html", follow=True)
        if "html" not in response.get("Content-Type", ""):
            continue
        for match in ASSET_TAG.finditer(_body(response)):
            tag = match[0]
            if match[1].lower() == "link" and not LOADING_REL.search(tag):
                continue
            if EXTERNAL_URL.search(tag):
                offenders.append(f"{url}: {tag}")
    assert not offenders, "\n".join(offenders)


def test_write_replies_do_not_echo_contact_details(city, settings, tmp_path):
    """The answers to the write entrances (API, Open311, "me too", the web form and its thank-you
    page) confirm the report without repeating who sent it."""
    from issues.open311.services import api_key_create

    settings.OPEN137_RATE_REPORTS = settings.OPEN137_RATE_OPEN311 = settings.OPEN137_RATE_SUPPORT = ""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    lon, lat = city.points.s11
    client = Client()
    api = client.post(
        "/api/reports/",
        json.dumps(
            {
                "category": "pothole",
                "lat": lat,
                "lon": lon,
                "description": "چاله",
                "name": NAME,
                "phone": PHONE,
                "email": EMAIL,
            }
        ),
        content_type="application/json",
    )
    _key_row, key = api_key_create(name="privacy check")
    open311 = client.post(
        "/open311/v2/requests.xml",
        {
            "api_key": key,
            "service_code": "pothole",
            "lat": lat,
            "long": lon,
            "first_name": NAME,
            "phone": PHONE,
            "email": EMAIL,
            "description": "چاله",
        },
    )
    support = client.post(f"/api/reports/{api.json()['code']}/support/")
    form = client.post(
        "/report/",
        {
            "category": "pothole",
            "description": "چاله دیگر",
            "lat": str(lat),
            "lon": str(lon),
            "reporter_name": NAME,
            "reporter_phone": PHONE,
            "reporter_email": EMAIL,
            "consent_contact": "on",
            "idempotency_key": "5d0c6a2e-4f8b-4e59-9a51-0f3b2a7c9e11",
        },
        follow=True,
    )
    for response in (api, open311, support, form):
        assert response.status_code < 300, _body(response)[:300]
        body = _body(response)
        for secret in (NAME, PHONE, to_persian_digits(PHONE), EMAIL):
            assert secret not in body, f"{secret!r} echoed by {response.request['PATH_INFO']}"
    assert Report.objects.filter(reporter_name=NAME).count() == 3
