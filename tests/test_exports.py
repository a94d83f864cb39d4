"""Offline map exports (`manage.py export_map`, /api/hotspots/map.html, issues.oversight.exports):
one HTML file with every asset inlined and no external URL at all, aggregated numbers rather than
reports (no tracking code, no contact detail), Persian labels, numbers that agree with the list;
bad input a clear error with nothing written. The page drawn in Chromium: tests/test_exports_browser.py."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from issues.filters import report_filters_parse
from issues.oversight.exports import district_report_counts, map_export_html
from tests.test_heatmap import listed_count
from tests.test_hotspots import city_reports  # noqa: F401  (a fixture)

# ruff: noqa: F811  (the fixture imported above, named as a test's argument)
from tests.test_tiles import EMAIL, NAME, PHONE

FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
KINDS = ["heatmap", "choropleth", "hotspots"]
URL = "/api/hotspots/map/{kind}.html"


def shown(page: str, text: str) -> bool:
    """Whether the page shows `text`: as is in its HTML, or JSON-escaped in a layer's data."""
    return text in page or json.dumps(text)[1:-1] in page


def assert_offline(page: str) -> None:
    """No URL the browser could fetch, nor any http(s):// text at all."""
    assert "http://" not in page and "https://" not in page
    assert "//cdn" not in page and "cdn." not in page
    assert not re.search(r"<(?:script|img|iframe)[^>]*\ssrc=", page)
    assert not re.search(r"<link[^>]*\shref=", page)
    assert "@import" not in page
    for found in re.findall(r"url\(([^)]*)\)", page):
        assert found.startswith(("data:", "#")) or found.strip("'\"").startswith(("data:", "#")), found


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.mark.parametrize("kind", KINDS)
def test_command_writes_one_offline_file_without_reports(city, city_reports, tmp_path, kind):
    out = tmp_path / f"{kind}.html"
    stdout = StringIO()
    call_command("export_map", "--kind", kind, "--out", str(out), stdout=stdout)
    page = out.read_text(encoding="utf-8")
    assert f"{len(page.encode()):,} bytes" in stdout.getvalue()
    assert_offline(page)
    assert page.startswith("<!DOCTYPE html>") and '<html lang="fa">' in page
    assert "L.map(" in page and "Leaflet" in page  # Leaflet inlined, not linked
    assert 'dir="rtl"' in page
    title = {
        "heatmap": "نقشهٔ گرمایی گزارش‌ها",
        "choropleth": "گزارش‌ها به تفکیک منطقه",
        "hotspots": "نقاط پرتکرار",
    }
    assert f"<title>{title[kind]}</title>" in page
    # Aggregates only: no report's tracking code, no contact detail.
    for report in report_codes(city_reports):
        assert report not in page
    for secret in (NAME, PHONE, EMAIL):
        assert secret not in page
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left


def to_fa(n: int) -> str:
    return f"{n:,}".replace(",", "٬").translate(FA_DIGITS)


def report_codes(made) -> list[str]:
    return [r.tracking_code for r in made["place"] + made["old"]]


def test_hotspots_export_labels_in_persian(city, city_reports):
    page = map_export_html(kind="hotspots", filters=report_filters_parse({}))
    assert "موضوع pothole" in page  # the category's Persian name (the test factory's)
    assert "۶ گزارش" in page  # Persian digits
    assert "منطقه یک" in page  # the district's Persian name
    assert "همهٔ وضعیت‌ها به‌جز تکراری" in page


def test_choropleth_counts_a_region_with_its_sub_districts(city, city_reports, client):
    counts = district_report_counts(filters=report_filters_parse({})).counts
    for code in ("R1", "R2", "S11"):
        assert counts.get(code, 0) == listed_count(client, district=code)
    city.districts["R1"].population = 20_000
    city.districts["R1"].save(update_fields=["population"])
    city.districts["R2"].population = 10_000
    city.districts["R2"].save(update_fields=["population"])
    page = map_export_html(kind="choropleth", filters=report_filters_parse({}))
    assert shown(page, "گزارش در هر ۱۰٬۰۰۰ نفر")
    r1 = counts["R1"] * 10_000 / 20_000
    rate = f"{r1:,.1f}".replace(",", "٬").replace(".", "٫").translate(FA_DIGITS)
    assert shown(page, f"منطقه یک: {to_fa(counts['R1'])} گزارش ({rate} در هر ۱۰٬۰۰۰ نفر)")


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--category", "nope"], "--category"),
        (["--status", "lost"], "--status"),
        (["--since", "yesterday"], "--since"),
        (["--district", "Z9"], "--district"),
        (["--bbox", "1,2"], "--bbox"),
        (["--since", "2026-02-01", "--until", "2026-01-01"], "--since"),
    ],
)
def test_command_bad_filter_is_a_clear_error_and_writes_nothing(city, tmp_path, args, flag):
    out = tmp_path / "map.html"
    with pytest.raises(CommandError, match=f"^{flag}: .*Nothing was written"):
        call_command("export_map", "--kind", "heatmap", "--out", str(out), *args)
    assert not out.exists()


def test_command_needs_out_and_kind_and_sane_hotspot_values(city, tmp_path):
    with pytest.raises(CommandError, match="--out"):
        call_command("export_map", "--kind", "heatmap")
    with pytest.raises(CommandError, match="--kind"):
        call_command("export_map", "--out", str(tmp_path / "a.html"))
    with pytest.raises(CommandError, match="kind"):
        call_command("export_map", "--kind", "scatter", "--out", str(tmp_path / "a.html"))
    with pytest.raises(CommandError, match="--radius-m"):
        call_command("export_map", "--kind", "hotspots", "--radius-m", "0", "--out", str(tmp_path / "a.html"))
    with pytest.raises(CommandError, match="--out"):
        call_command("export_map", "--kind", "heatmap", "--out", str(tmp_path / "missing" / "a.html"))
    assert list(tmp_path.iterdir()) == []


def test_download_view(city, city_reports, client):
    response = client.get(URL.format(kind="heatmap"), {"category": "pothole", "kind": "service_request"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="open137-heatmap-\d{4}-\d\d-\d\d\.html"', response["Content-Disposition"]
    )
    assert_offline(response.content.decode())
    for kind, params, field in [
        ("dots", {}, "kind"),
        ("heatmap", {"category": "nope"}, "category"),
        ("choropleth", {"kind": "poem"}, "kind"),
        ("hotspots", {"days": "900"}, "days"),
        ("hotspots", {"min_reports": "x"}, "min_reports"),
    ]:
        bad = client.get(URL.format(kind=kind), params)
        assert bad.status_code == 400, params
        assert list(bad.json()["detail"]) == [field]
        # The API's one error shape: a machine code beside the message, as every other 400.
        assert bad.json()["code"] == "invalid"
