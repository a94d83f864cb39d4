"""Scorecards in the API, under /api/scorecards/."""

from django.urls import URLPattern, URLResolver, path

from issues.oversight.scorecard_views import ScorecardDistrictsApi, ScorecardTrendsApi, ScorecardUnitsApi

urlpatterns: list[URLPattern | URLResolver] = [
    path("districts/", ScorecardDistrictsApi.as_view(), name="scorecards-districts"),
    path("units/", ScorecardUnitsApi.as_view(), name="scorecards-units"),
    path("trends/", ScorecardTrendsApi.as_view(), name="scorecards-trends"),
]
