"""Scorecards in the API, under /api/scorecards/."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
