"""Hotspots in the API, under /api/hotspots/."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
