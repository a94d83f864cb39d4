"""Hotspots in the API, under /api/hotspots/, and the offline map download (all three kinds) at
/api/hotspots/map/<kind>.html (heatmap, choropleth, hotspots)."""

from django.urls import URLPattern, URLResolver, path

from issues.oversight.export_views import map_export
from issues.oversight.hotspot_views import HotspotApi

urlpatterns: list[URLPattern | URLResolver] = [
    path("", HotspotApi.as_view(), name="hotspots"),
    path("map/<str:kind>.html", map_export, name="map-export"),
]
