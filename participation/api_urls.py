"""Participation points and pledges in the API, under /api/participation/."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
