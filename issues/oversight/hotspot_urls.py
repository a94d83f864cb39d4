"""Hotspots in the API, under /api/hotspots/."""

from django.urls import URLPattern, URLResolver, path

from issues.oversight.hotspot_views import HotspotApi

urlpatterns: list[URLPattern | URLResolver] = [
    path("", HotspotApi.as_view(), name="hotspots"),
]
