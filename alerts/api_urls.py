"""Alert subscriptions in the API, under /api/alerts/."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
