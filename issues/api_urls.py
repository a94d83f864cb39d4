"""The project's own report API under /api/ (reports, support, categories)."""

from django.urls import path

from issues.apis import LocateApi

urlpatterns = [
    path("locate/", LocateApi.as_view(), name="locate"),
]
