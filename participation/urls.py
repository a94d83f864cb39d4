"""Participation pages under /participation/."""

from django.urls import URLPattern, URLResolver

app_name = "participation"
urlpatterns: list[URLPattern | URLResolver] = []
