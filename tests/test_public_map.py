"""The public map page (/map/) as the server writes it: Persian first and right to left, one toggle
per category, the filters' state read from the query string (and a clear 400 naming what could not
be used), the script's configuration in a JSON block (no inline script), no external URL; the
home page's map gets the same tile configuration."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    """An element of the page: enough of a DOM to read what a user would see."""

    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def __getitem__(self, name: str) -> str:
        return self.attrs[name]

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)

    def has(self, name: str) -> bool:
        return name in self.attrs

    def text(self) -> str:
        return " ".join(
            "".join(c if isinstance(c, str) else " " + c.text() + " " for c in self.children).split()
        )

    def all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and all(
                    (v in (child.get("class") or "").split() if k == "class_" else child.get(k) == v)
                    for k, v in attrs.items()
                ):
                    found.append(child)
                found += child.all(tag, **attrs)
        return found

    def one(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.all(tag, **attrs)
        assert found, f"no <{tag or '*'} {attrs}> in the page"
        return found[0]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


@pytest.fixture
def client(settings) -> Client:
    settings.OPEN137_TILE_URL = ""
    return Client()


def _page(response) -> Node:
    builder = _Builder()
    builder.feed(response.content.decode())
    return builder.root


def _config(page: Node, name: str = "map-config") -> dict:
    block = page.one("script", id=name)
    assert block.get("type") == "application/json"
    return json.loads("".join(c for c in block.children if isinstance(c, str)))


def _checked(page: Node) -> list[str]:
    return [b["value"] for b in page.all("input", name="category") if b.has("checked")]


def _selected(page: Node, select_id: str) -> str:
    return [o["value"] for o in page.one("select", id=select_id).all("option") if o.has("selected")][0]


def _english(client: Client) -> None:
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"


def test_the_map_page_is_persian_right_to_left_with_a_toggle_per_category(client, city):
    response = client.get("/map/")
    assert response.status_code == 200
    page = _page(response)
    html = page.one("html")
    assert html["lang"] == "fa" and html["dir"] == "rtl"
    assert page.one("h1").text() == "نقشه گزارش‌ها"
    boxes = page.all("input", name="category")
    assert [b["value"] for b in boxes] == ["pothole", "suggestion"]
    assert _checked(page) == ["pothole", "suggestion"]
    # Each toggle is labelled with the category's Persian name and shows its colour (the legend).
    label = page.one("label", **{"for": "map-cat-pothole"})
    assert label.text() == city.pothole.name_fa
    assert label.one("span", class_="swatch")["style"].startswith("background: #")
    # Open reports by default, of any time; the list region with its live summary.
    assert _selected(page, "map-status") == "open"
    assert _selected(page, "map-window") == "all"
    summary = page.one(id="map-summary")
    assert summary["aria-live"] == "polite" and summary["role"] == "status"
    config = _config(page)
    assert config["tiles"] == "/tiles/reports/{z}/{x}/{y}.mvt"
    assert config["track"] == "/track/{code}/"
    assert config["heatmap"] == "/api/heatmap/" and config["reports"] == "/api/reports/"
    assert config["districts"] == "/api/districts/"
    assert config["participation"] == "/api/participation/points/"
    assert config["state"] == {
        "categories": ["pothole", "suggestion"],
        "status": "open",
        "window": "all",
        "since": "",
        "until": "",
        "sinceEffective": "",
    }
    assert [c["code"] for c in config["categories"]] == ["pothole", "suggestion"]
    assert len({c["colour"] for c in config["categories"]}) == 2
    assert config["view"] is None and config["language"] == "fa"
    # The participation toggle waits, hidden, for its endpoint to answer.
    assert page.one(id="map-layer-participation-row").has("hidden")


def test_the_filters_state_comes_from_the_query_string(client, city):
    response = client.get(
        "/map/",
        {
            "category": "suggestion",
            "status": "closed",
            "window": "30",
            "lat": "36.27",
            "lon": "50.01",
            "zoom": "15",
        },
    )
    assert response.status_code == 200
    page = _page(response)
    assert _checked(page) == ["suggestion"]
    assert _selected(page, "map-status") == "closed"
    assert _selected(page, "map-window") == "30"
    config = _config(page)
    assert config["state"]["categories"] == ["suggestion"]
    assert config["state"]["status"] == "closed" and config["statusParams"]["closed"] == "closed"
    assert config["view"] == [36.27, 50.01, 15]
    # The window becomes a date 30 days back in the city's calendar.
    assert config["state"]["sinceEffective"] == (timezone.localdate() - timedelta(days=30)).isoformat()


def test_comma_lists_and_explicit_dates(client, city):
    response = client.get(
        "/map/", {"category": "pothole,suggestion", "since": "۱۴۰۵-۰۹-۰۱", "until": "2026-12-01"}
    )
    assert response.status_code == 200
    page = _page(response)
    config = _config(page)
    assert config["state"]["categories"] == ["pothole", "suggestion"]
    # Dates as typed (the API reads Jalali and Persian digits); they replace the window.
    assert config["state"]["since"] == "۱۴۰۵-۰۹-۰۱" and config["state"]["sinceEffective"] == "۱۴۰۵-۰۹-۰۱"
    assert page.one("input", id="map-since")["value"] == "۱۴۰۵-۰۹-۰۱"
    assert page.one("details", class_="map-dates").has("open")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "bogus"}, "status"),
        ({"window": "12"}, "window"),
        ({"category": "no-such-thing"}, "category"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-12-01", "until": "2026-11-01"}, "since"),
        ({"lat": "91", "lon": "50", "zoom": "12"}, "lat"),
        ({"lat": "36", "lon": "50", "zoom": "nan"}, "zoom"),
    ],
)
def test_a_filter_that_cannot_be_used_is_a_400_that_names_it(client, city, params, field):
    _english(client)
    response = client.get("/map/", params)
    assert response.status_code == 400
    page = _page(response)
    errors = page.one(id="map-errors")
    assert errors["role"] == "alert"
    assert any(li.text().startswith(f"{field}:") for li in errors.all("li")), errors.text()
    # The page still works, with the defaults in place of what was refused.
    config = _config(page)
    assert config["state"]["status"] == "open" or "status" not in params
    assert config["state"]["categories"] == ["pothole", "suggestion"]
    assert config["view"] is None


def test_the_english_page_is_one_click_away(client, city):
    page = _page(client.get("/map/"))
    assert page.one("form", class_="lang").one("button", name="language")["value"] == "en"
    _english(client)
    page = _page(client.get("/map/"))
    html = page.one("html")
    assert html["lang"] == "en" and html["dir"] == "ltr"
    assert page.one("h1").text() == "Map of reports"
    assert page.one("label", **{"for": "map-cat-pothole"}).text() == "Pothole"
    config = _config(page)
    assert config["language"] == "en"
    assert config["strings"]["generated"] == "generated"
    assert config["statusLabels"]["received"] == "received"


def test_no_inline_script_and_no_external_url(client, city):
    response = client.get("/map/")
    html = response.content.decode()
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    page = _page(response)
    for script in page.all("script"):
        # The app's static files, or JSON data: never code written into the page.
        assert (script.get("src") or "").startswith("/static/") or script.get("type") == "application/json"
    external = re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s\"'<>]*", html, re.IGNORECASE)
    assert external == []
    srcs = [s["src"] for s in page.all("script") if s.has("src")]
    assert "/static/npm/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js" in srcs
    assert srcs[-1] == "/static/maps/map.js"


def test_base_tiles_only_when_configured(client, city, settings):
    assert _config(_page(client.get("/map/")))["baseTiles"] == ""
    settings.OPEN137_TILE_URL = "https://tiles.example.org/{z}/{x}/{y}.png"
    assert _config(_page(client.get("/map/")))["baseTiles"] == "https://tiles.example.org/{z}/{x}/{y}.png"


def test_the_map_page_only_reads(client, city):
    assert client.head("/map/").status_code == 200
    assert client.post("/map/").status_code == 405


def test_the_home_page_map_draws_the_reports_with_the_same_code(client, city):
    response = client.get("/")
    assert response.status_code == 200
    page = _page(response)
    config = _config(page, "report-map-config")
    assert config["tiles"] == "/tiles/reports/{z}/{x}/{y}.mvt" and config["track"] == "/track/{code}/"
    assert [c["code"] for c in config["categories"]] == ["pothole", "suggestion"]
    srcs = [s["src"] for s in page.all("script") if s.has("src")]
    assert "/static/maps/reportmap.js" in srcs
    assert page.all("a", href="/map/")


def test_the_map_offers_a_hotspot_layer_off_by_default(client, city):
    page = _page(client.get("/map/"))
    box = page.one("input", id="map-layer-hotspots")
    assert box["type"] == "checkbox" and not box.has("checked")
    assert page.one("label", **{"for": "map-layer-hotspots"}).text() == "کانون‌های تکرار"
    help_id = box["aria-describedby"]
    assert page.one(id=help_id).text() == "جاهایی که یک مشکل بارها تکرار می‌شود: گزینه‌هایی برای رفع ماندگار."
    config = _config(page)
    assert config["hotspots"] == "/api/hotspots/"
    assert config["hotspotMaxDays"] == 366
    assert config["strings"]["hotspotCandidate"] == "گزینه‌ای برای رفع ماندگار"
    assert config["strings"]["hotspotReports"] == "%(n)s گزارش"
    # Its legend entry (hidden until the layer is on) gives the rule, in Persian digits.
    legend = page.one("li", id="map-legend-hotspots")
    assert legend.has("hidden")
    assert legend.text().startswith("کانون تکرار: دست‌کم ۵ گزارش از یک دسته، هر یک در فاصله ۵۰ متری")
    # The list of the hotspots on screen, below the map, with a live summary: hidden while off.
    section = page.one("section", id="map-hotspots")
    assert section.has("hidden")
    assert page.one("h2", id=section["aria-labelledby"]).text() == "کانون‌های تکرار در این نما"
    summary = section.one(id="map-hotspots-summary")
    assert summary["role"] == "status" and summary["aria-live"] == "polite"
    assert section.one("ol", id="map-hotspot-list").children == []
    # The layer's script comes before the map's, from the app's own static files.
    srcs = [s["src"] for s in page.all("script") if s.has("src")]
    assert srcs[-2:] == ["/static/maps/maphotspots.js", "/static/maps/map.js"]


def test_the_hotspot_layer_in_english(client, city, settings):
    settings.OPEN137_HOTSPOT_MIN_REPORTS = 4
    settings.OPEN137_HOTSPOT_RADIUS_M = 75.0
    _english(client)
    page = _page(client.get("/map/"))
    assert page.one("label", **{"for": "map-layer-hotspots"}).text() == "Hotspots"
    # The rule follows the settings the API uses.
    assert page.one("li", id="map-legend-hotspots").text() == (
        "Hotspot: at least 4 reports of one category, each within 75 metres of the next; "
        "the larger the circle, the more reports. A candidate for a lasting fix."
    )
    assert page.one("h2", id="map-hotspots-title").text() == "Hotspots in this view"
    strings = _config(page)["strings"]
    assert strings["hotspotCandidate"] == "Candidate for a lasting fix"
    assert strings["hotspotSummary"] == "%(n)s hotspots in this view (%(total)s in all)."


# A recurring pothole: six reports within a few metres, each with the reporter's contact details.
SECRETS = ("Quorvell Tamsby", "09127770123", "quorvell.tamsby@example.org", "7" * 64)


def _cluster(city) -> None:
    from django.contrib.gis.geos import Point

    from districts.models import RoutingRule
    from issues.models import Report

    Report.objects.bulk_create(
        Report(
            tracking_code=f"HOTS{i:04d}",
            category=city.pothole,
            kind=city.pothole.kind,
            description=f"چاله دوباره {i}",
            description_search=f"چاله دوباره {i}",
            location=Point(50.010 + i * 0.0001, 36.2685, srid=4326),
            status="closed" if i < 2 else "received",
            district=city.districts["R1"],
            routing_rule=RoutingRule.COVERS,
            routed_at=timezone.now(),
            reporter_name=SECRETS[0],
            reporter_phone=SECRETS[1],
            reporter_email=SECRETS[2],
            private_token_hash=SECRETS[3] if i == 0 else f"{i:064d}",
            generated=i == 5,
        )
        for i in range(6)
    )


@pytest.mark.parametrize(
    "query",
    [
        # What the layer asks for: all time, every category (the API's longest window) ...
        "days=366",
        # ... one category and the last 7 days ...
        "category=pothole&days=7",
        # ... and explicit dates (Jalali too), bounded by the longest window however early `since` is.
        "since=2000-01-01&until=" + (timezone.localdate() + timedelta(days=1)).isoformat() + "&days=366",
        "since=۱۳۸۰-۰۱-۰۱&days=366",
    ],
)
def test_the_hotspot_layers_requests_answer_aggregates_without_contact_details(client, city, query):
    _cluster(city)
    response = client.get(f"/api/hotspots/?{query}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/geo+json")
    body = response.content.decode()
    assert not [secret for secret in SECRETS if secret in body]
    answer = json.loads(body)
    [hotspot] = answer["features"]
    # Closed reports count: a problem that came back after a repair is the recurrence.
    assert hotspot["properties"]["count"] == 6 and hotspot["properties"]["category"] == "pothole"
    assert hotspot["properties"]["generated"] == 1
    # An aggregate: only these fields, the latest tracking codes (public) among them.
    assert set(hotspot["properties"]) == {
        "category",
        "count",
        "spread_m",
        "district",
        "first_at",
        "last_at",
        "codes",
        "generated",
    }
    assert hotspot["properties"]["codes"] == [f"HOTS{i:04d}" for i in (5, 4, 3, 2, 1)]
    assert set(answer) == {"type", "count", "since", "until", "min_reports", "radius_m", "features"}


def test_the_hotspot_layer_follows_the_category_filter(client, city):
    _cluster(city)
    answer = json.loads(client.get("/api/hotspots/?category=suggestion&days=366").content)
    assert answer["features"] == []
