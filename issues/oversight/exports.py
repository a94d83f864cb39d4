"""Offline map exports for council meetings: one HTML file (folium) that opens with no network.

`map_export_html(kind=..., filters=...)` draws one of three aggregated views of the reports that
match the filters of `/api/reports/`:

- `heatmap`: the counts per grid cell of the heatmap (issues.oversight.heatmap, the same cells as
  `/api/heatmap/`), each cell a square coloured by its count;
- `choropleth`: each region coloured by its reports per 10,000 residents, or by its count when a
  region's population is not known (a region takes in its sub-districts' reports);
- `hotspots`: the hotspots (issues.oversight.hotspots), each a circle around its reports.

Never a raw report: only counts per cell, per district or per cluster leave the database, so the
file stays small and says nothing about any one reporter. The district outlines are drawn under
every kind; there are no base-map tiles (they would need the network).

Every asset is inlined: folium links Leaflet, jQuery, Bootstrap and Font Awesome from CDNs; here
its lists of links are emptied and the Leaflet that django-leaflet ships (its static files) is
written into the page, its CSS images as data: URIs. The page holds no `http://` or `https://` at
all: the few in Leaflet's text (the SVG namespace, the project's home page in its licence comment
and attribution) are written with escaped slashes (`http:\\/\\/`, the same string to JavaScript), and
the attribution control is off. Labels are Persian (numbers in Persian digits, dates Jalali).
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from django.contrib.staticfiles import finders
from django.db import connection
from django.utils import timezone

from districts.selectors import district_list_geojson
from geo.text import to_persian_digits
from issues.filters import ReportFilters
from issues.models import Category, ReportStatus
from issues.oversight.heatmap import HeatmapTooLarge, heatmap_geojson, report_heatmap_cells
from issues.oversight.hotspots import (
    HotspotWindow,
    hotspot_list,
    hotspot_parameters_check,
    hotspot_settings,
    hotspot_window,
)
from issues.oversight.sql import DEFAULT_STATUSES, filters_sql
from issues.workflow.sla import jalali_format

EXPORT_KINDS = ("heatmap", "choropleth", "hotspots")
# Colours from few to many (ColorBrewer YlOrRd, 6 classes).
RAMP = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026")
# The heatmap's zoom: the largest at which the area fits this many 256 px tiles across (a wide
# screen), within these bounds; lower while the cells are too many for one answer.
HEATMAP_TILES_ACROSS = 5
HEATMAP_ZOOMS = (6, 15)
# Qazvin's centre, where there are no districts and no reports to fit the map to.
DEFAULT_CENTRE = (36.27, 50.0)
# District outlines, simplified to about this many metres (the file stays small).
OUTLINE_SIMPLIFY_M = 20.0

KIND_TITLES = {
    "heatmap": "نقشهٔ گرمایی گزارش‌ها",
    "choropleth": "گزارش‌ها به تفکیک منطقه",
    "hotspots": "نقاط پرتکرار",
}


class ExportError(ValueError):
    """An export that cannot be made as asked (an unknown kind)."""


@dataclass(frozen=True)
class _Layer:
    name: str
    geojson: dict[str, Any]
    legend: list[tuple[str, str]]  # (colour, label)


# --- The assets, inlined ---------------------------------------------------------------------------


def _static(path: str) -> Path:
    found = finders.find(path)
    if not found:
        raise ExportError(f"static file {path} not found (is django-leaflet installed?)")
    return Path(found if isinstance(found, str) else found[0])


def _no_url(text: str) -> str:
    """The same JavaScript or CSS text without an `http(s)://` in it (slashes escaped: `\\/` is `/`
    in a JavaScript string, regular expression or comment); `</` escaped so it cannot close the
    <script> or <style> element it is written into."""
    return re.sub(r"(https?):/{2}", r"\1:\\/\\/", text).replace("</", "<\\/")


@cache
def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's JavaScript and CSS (django-leaflet's static copy), ready to inline."""
    script = _static("leaflet/leaflet.js").read_text(encoding="utf-8")
    css = _static("leaflet/leaflet.css").read_text(encoding="utf-8")

    def data_uri(match: re.Match[str]) -> str:
        name = match.group(1)
        data = base64.b64encode(_static(f"leaflet/{name}").read_bytes()).decode()
        return f"url(data:image/png;base64,{data})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", data_uri, css)
    return _no_url(script), _no_url(css)


# --- The numbers ----------------------------------------------------------------------------------


def _fa(value: int | float | str) -> str:
    if isinstance(value, float):
        value = f"{value:,.1f}".replace(",", "٬").replace(".", "٫")
    elif isinstance(value, int):
        value = f"{value:,}".replace(",", "٬")
    return to_persian_digits(str(value))


def _classes(values: Sequence[float]) -> list[float]:
    """Upper bounds of the colour classes: quantiles of the values (distinct, at most len(RAMP))."""
    ordered = sorted(values)
    if not ordered:
        return []
    bounds: list[float] = []
    for i in range(1, len(RAMP) + 1):
        bound = ordered[min(len(ordered) - 1, math.ceil(i * len(ordered) / len(RAMP)) - 1)]
        if not bounds or bound > bounds[-1]:
            bounds.append(bound)
    return bounds


def _colour(value: float, bounds: list[float]) -> str:
    for i, bound in enumerate(bounds):
        if value <= bound:
            return RAMP[round(i * (len(RAMP) - 1) / max(1, len(bounds) - 1))]
    return RAMP[-1]


def _legend(bounds: list[float], *, digits: int = 0) -> list[tuple[str, str]]:
    def show(v: float) -> str:
        return _fa(round(v, digits) if digits else int(v))

    rows, low = [], None
    for bound in bounds:
        label = show(bound) if low is None or low == bound else f"{show(low)} تا {show(bound)}"
        if low is None and bound > (1 if not digits else 0):
            label = f"تا {show(bound)}"
        rows.append((_colour(bound, bounds), label))
        low = bound + (1 if not digits else 0)
    return rows


def _generated_matching(where: str, params: dict[str, Any]) -> bool:
    """Whether any matching report is one the demo generated (then the page says so)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM issues_report r WHERE r.generated AND {where})", params)
        return bool(cursor.fetchone()[0])


# Reports per district, a sub-district's counted for its region too (a region's count takes in
# its sub-districts', as the list's district filter does); districts by code (a report keeps the
# district row of the boundary set it was routed in).
_DISTRICT_COUNTS_SQL = """
    SELECT d.code, p.code, count(*), count(*) FILTER (WHERE r.generated) FROM issues_report r
      JOIN districts_district d ON d.id = r.district_id
      LEFT JOIN districts_district p ON p.id = d.parent_id
     WHERE {where}
     GROUP BY 1, 2"""


@dataclass(frozen=True)
class DistrictCounts:
    # Matching reports per district code; a region's count takes in its sub-districts'.
    counts: dict[str, int]
    # How many of the matching reports routed to a district the demo generated.
    generated: int


def district_report_counts(*, filters: ReportFilters) -> DistrictCounts:
    """Matching reports per district code (status: the open ones unless given)."""
    where, params = filters_sql(filters)
    counts: dict[str, int] = {}
    generated = 0
    with connection.cursor() as cursor:
        cursor.execute(_DISTRICT_COUNTS_SQL.format(where=where), params)
        for code, parent, n, made_up in cursor.fetchall():
            generated += made_up
            counts[code] = counts.get(code, 0) + n
            if parent:
                counts[parent] = counts.get(parent, 0) + n
    return DistrictCounts(counts, generated)


def _districts() -> list[dict[str, Any]]:
    """The active districts (not the jurisdiction) as GeoJSON features, simplified."""
    collection = orjson.loads(district_list_geojson(simplify_m=OUTLINE_SIMPLIFY_M) or b"{}")
    return [f for f in collection.get("features", []) if f["properties"]["level"] > 0]


def _bounds(features: Sequence[dict[str, Any]]) -> tuple[float, float, float, float] | None:
    xs: list[float] = []
    ys: list[float] = []

    def walk(coords: Any) -> None:
        if coords and isinstance(coords[0], (int, float)):
            xs.append(coords[0])
            ys.append(coords[1])
        else:
            for c in coords:
                walk(c)

    for feature in features:
        if feature.get("geometry"):
            walk(feature["geometry"]["coordinates"])
    if not xs:
        return None
    return min(xs), min(ys), max(xs), max(ys)


def city_extent() -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of the active districts, in degrees; None without districts."""
    return _bounds(_districts())


def _heatmap_zoom(bounds: tuple[float, float, float, float] | None) -> int:
    low, high = HEATMAP_ZOOMS
    if bounds is None:
        return low
    west, south, east, north = bounds
    span = max(east - west, (north - south) * 1.25, 1e-6)
    zoom = math.floor(math.log2(360 * HEATMAP_TILES_ACROSS / span))
    return max(low, min(high, zoom))


def _heatmap_layer(filters: ReportFilters, area: tuple[float, float, float, float] | None) -> _Layer:
    zoom = _heatmap_zoom(filters.bbox or area)
    while True:
        try:
            cells = report_heatmap_cells(bbox=filters.bbox, zoom=zoom, filters=filters)
            break
        except HeatmapTooLarge:
            if zoom <= 0:
                raise
            zoom -= 1
    geojson = heatmap_geojson(cells)
    bounds = _classes([n for _, _, n in cells.cells])
    features: list[dict[str, Any]] = geojson["features"]  # type: ignore[assignment]
    for feature in features:
        n = feature["properties"]["count"]
        feature["properties"] = {"count": n, "label": f"{_fa(n)} گزارش", "fill": _colour(n, bounds)}
    return _Layer("خانه‌های نقشهٔ گرمایی", geojson, _legend(bounds))


def _choropleth_layer(filters: ReportFilters, districts: list[dict[str, Any]]) -> tuple[_Layer, bool]:
    found = district_report_counts(filters=filters)
    counts = found.counts
    regions = [f for f in districts if f["properties"]["level"] == 1] or districts
    per_residents = bool(regions) and all(f["properties"].get("population") for f in regions)
    values: dict[str, float] = {}
    for feature in regions:
        props = feature["properties"]
        n = counts.get(props["code"], 0)
        values[props["code"]] = n * 10_000 / props["population"] if per_residents else n
    bounds = _classes(list(values.values()))
    features = []
    for feature in regions:
        props = feature["properties"]
        n = counts.get(props["code"], 0)
        label = f"{props['name_fa']}: {_fa(n)} گزارش"
        if per_residents:
            label += f" ({_fa(values[props['code']])} در هر ۱۰٬۰۰۰ نفر)"
        features.append(
            {
                "type": "Feature",
                "geometry": feature["geometry"],
                "properties": {
                    "code": props["code"],
                    "count": n,
                    "label": label,
                    "fill": _colour(values[props["code"]], bounds),
                },
            }
        )
    name = "گزارش در هر ۱۰٬۰۰۰ نفر" if per_residents else "شمار گزارش‌ها"
    layer = _Layer(
        name,
        {"type": "FeatureCollection", "features": features},
        _legend(bounds, digits=1 if per_residents else 0),
    )
    return layer, found.generated > 0


def _hotspot_layer(
    filters: ReportFilters,
    window: HotspotWindow,
    districts: list[dict[str, Any]],
    *,
    min_reports: int | None,
    radius_m: float | None,
) -> tuple[_Layer, list[float]]:
    hotspots = hotspot_list(
        filters=filters, since=window.since, until=window.until, min_reports=min_reports, radius_m=radius_m
    )
    names = dict(Category.objects.values_list("code", "name_fa"))
    district_names = {f["properties"]["code"]: f["properties"]["name_fa"] for f in districts}
    radius = hotspot_settings().radius_m if radius_m is None else radius_m
    bounds = _classes([h.count for h in hotspots])
    features, radii = [], []
    for h in hotspots:
        label = (
            f"{names.get(h.category, h.category)}: {_fa(h.count)} گزارش، "
            f"از {jalali_format(h.first_at.date())} تا {jalali_format(h.last_at.date())}"
        )
        if h.district:
            label += f"، {district_names.get(h.district, h.district)}"
        if h.generated:
            label += f" ({_fa(h.generated)} گزارش ساختگی نمایشی)"
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [h.lon, h.lat]},
                "properties": {"count": h.count, "label": label, "fill": _colour(h.count, bounds)},
            }
        )
        radii.append(max(h.spread_m, radius))
    legend = _legend(bounds)
    return _Layer("نقاط پرتکرار", {"type": "FeatureCollection", "features": features}, legend), radii


# --- The page -------------------------------------------------------------------------------------


def _filters_text(filters: ReportFilters, kind: str, window: HotspotWindow | None) -> list[str]:
    lines = []
    statuses = filters.statuses
    if statuses is None:
        lines.append("همهٔ وضعیت‌ها به‌جز تکراری" if kind == "hotspots" else "گزارش‌های باز")
    else:
        labels = {s.value: str(s.label) for s in ReportStatus}
        if statuses == DEFAULT_STATUSES:
            lines.append("گزارش‌های باز")
        else:
            lines.append("وضعیت: " + "، ".join(labels.get(s, s) for s in sorted(statuses)))
    if filters.categories:
        names = dict(Category.objects.filter(code__in=filters.categories).values_list("code", "name_fa"))
        lines.append("موضوع: " + "، ".join(names.get(c, c) for c in filters.categories))
    if filters.district:
        lines.append(f"منطقه: {filters.district}")
    since = window.since if window else filters.since
    until = window.until if window else filters.until_before
    if since is not None:
        lines.append(f"از {jalali_format(timezone.localtime(since).date())}")
    if until is not None:
        lines.append(f"تا پیش از {jalali_format(timezone.localtime(until))}")
    return lines


def _panel(title: str, lines: list[str], legend: list[tuple[str, str]], note: str | None) -> str:
    rows = "".join(
        f'<li><span class="o137-swatch" style="background:{colour}"></span>{html.escape(label)}</li>'
        for colour, label in legend
    )
    extra = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    if note:
        extra += f'<p class="o137-note">{html.escape(note)}</p>'
    made = f"ساخته‌شده در {jalali_format(timezone.now())}"
    return f"""
<div class="o137-panel" dir="rtl" lang="fa" role="region" aria-label="{html.escape(title)}">
  <h1>{html.escape(title)}</h1>{extra}
  <ul class="o137-legend">{rows or "<li>بی‌گزارش</li>"}</ul>
  <p class="o137-made">{html.escape(made)}</p>
</div>"""


_PANEL_CSS = """
.o137-panel { position: absolute; z-index: 1000; top: 10px; right: 10px; max-width: 20rem;
  background: #fff; padding: .5rem .8rem; border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.4);
  font-family: Vazirmatn, Tahoma, "Noto Sans Arabic", sans-serif; font-size: 14px; line-height: 1.6; }
.o137-panel h1 { font-size: 16px; margin: 0 0 .3rem; }
.o137-panel p { margin: 0; }
.o137-legend { list-style: none; padding: 0; margin: .4rem 0; }
.o137-swatch { display: inline-block; width: 1em; height: 1em; margin-left: .4em;
  vertical-align: middle; border: 1px solid #999; }
.o137-note { color: #8a4b00; }
.o137-made { color: #555; font-size: 12px; }
.leaflet-container { background: #f2efe9; }
.leaflet-tooltip { direction: rtl; font-family: Vazirmatn, Tahoma, sans-serif; }
"""


def _tip(text: str) -> str:
    """A tooltip's text as folium must be given it: folium puts a GeoJSON tooltip's values into
    innerHTML and a marker's tooltip into a JavaScript template literal, both as they are. A
    district or category name comes from an import or the admin, so markup, `${`, a backtick or a
    backslash in it are written as character references: the council member's browser shows them
    as the characters and runs nothing."""
    return html.escape(text).replace("\\", "&#92;").replace("`", "&#96;").replace("$", "&#36;")


def _tipped(features: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    """Copies of the features with their `field` written as a tooltip's text (_tip)."""
    return [
        {**f, "properties": {**f["properties"], field: _tip(str(f["properties"][field]))}} for f in features
    ]


def map_export_html(
    *,
    kind: str,
    filters: ReportFilters,
    min_reports: int | None = None,
    radius_m: float | None = None,
    days: int | None = None,
) -> str:
    """The offline map (module docstring) as one HTML document. `filters` as parsed from
    `/api/reports/`'s parameters (issues.filters.report_filters_parse); `min_reports`, `radius_m`
    and `days` for the hotspots (hotspot_list's defaults). ExportError for an unknown kind;
    HotspotParameterError for a hotspot parameter out of its bounds."""
    import folium

    if kind not in EXPORT_KINDS:
        raise ExportError(f"unknown kind {kind!r}: use one of {', '.join(EXPORT_KINDS)}.")
    districts = _districts()
    area = _bounds(districts)
    window = None
    note = None
    if kind == "hotspots":
        hotspot_parameters_check(
            min_reports=hotspot_settings().min_reports if min_reports is None else min_reports,
            radius_m=hotspot_settings().radius_m if radius_m is None else radius_m,
            days=days,
        )
        window = hotspot_window(since=filters.since, until=filters.until_before, days=days)
        layer, radii = _hotspot_layer(filters, window, districts, min_reports=min_reports, radius_m=radius_m)
        if any("ساختگی" in f["properties"]["label"] for f in layer.geojson["features"]):
            note = "شامل گزارش‌های ساختگی نمایشی"
    else:
        if kind == "heatmap":
            layer = _heatmap_layer(filters, area)
            where, params = filters_sql(filters)
            generated = _generated_matching(where, params)
        else:
            layer, generated = _choropleth_layer(filters, districts)
        if generated:
            note = "شامل گزارش‌های ساختگی نمایشی (داده‌های نمونه)"
        radii = []
    title = KIND_TITLES[kind]
    figure = folium.Figure(title=title)
    fmap = folium.Map(location=DEFAULT_CENTRE, zoom_start=11, tiles=None, attribution_control=False)
    fmap.default_js = []
    fmap.default_css = []
    figure.add_child(fmap)
    script, css = _leaflet_assets()
    header = figure.header
    header.add_child(folium.Element(f"<style>{css}{_PANEL_CSS}</style>"), name="open137_css")
    header.add_child(folium.Element(f"<script>{script}</script>"), name="open137_leaflet")

    outlines = folium.FeatureGroup(name="مرز منطقه‌ها", show=True)
    if districts:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": _tipped(districts, "name_fa")},
            style_function=lambda f: {
                "color": "#444",
                "weight": 2 if f["properties"]["level"] == 1 else 1,
                "dashArray": None if f["properties"]["level"] == 1 else "4 3",
                "fill": False,
            },
            tooltip=folium.GeoJsonTooltip(fields=["name_fa"], labels=False),
        ).add_to(outlines)
    outlines.add_to(fmap)
    group = folium.FeatureGroup(name=layer.name, show=True)
    if kind == "hotspots":
        for feature, radius in zip(layer.geojson["features"], radii, strict=True):
            lon, lat = feature["geometry"]["coordinates"]
            props = feature["properties"]
            folium.Circle(
                location=(lat, lon),
                radius=radius,
                color="#7a0019",
                weight=2,
                fill=True,
                fill_color=props["fill"],
                fill_opacity=0.7,
                tooltip=_tip(props["label"]),
            ).add_to(group)
    elif layer.geojson["features"]:
        folium.GeoJson(
            {**layer.geojson, "features": _tipped(layer.geojson["features"], "label")},
            style_function=lambda f: {
                "color": "#555",
                "weight": 0.5 if kind == "heatmap" else 1,
                "fillColor": f["properties"]["fill"],
                "fillOpacity": 0.7,
            },
            tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
        ).add_to(group)
    group.add_to(fmap)
    folium.LayerControl(collapsed=False, position="topleft").add_to(fmap)
    fit = filters.bbox or _bounds(layer.geojson["features"]) or area
    if fit is not None:
        west, south, east, north = fit
        fmap.fit_bounds([[south, west], [north, east]])
    figure.html.add_child(
        folium.Element(_panel(title, _filters_text(filters, kind, window), layer.legend, note))
    )
    page = figure.render().replace("<html>", '<html lang="fa">', 1)
    leaked = re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|https?://""", page)
    if leaked:
        # A folium element brought a link of its own: refuse rather than write a page that needs
        # the network.
        raise ExportError(f"the page would load {page[leaked.start() : leaked.start() + 80]!r}")
    return page


def export_file_name(*, kind: str, at: datetime | None = None) -> str:
    """A file name for the download: `open137-<kind>-<yyyy-mm-dd>.html` (the Gregorian day, ASCII)."""
    day = timezone.localtime(at or timezone.now()).date().isoformat()
    return f"open137-{kind}-{day}.html"
