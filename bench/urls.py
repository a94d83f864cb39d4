"""URLs of the bench server: the project's, unchanged, plus the references the API measures compare
it with. Served only by the server bench/server.py starts (DJANGO_SETTINGS_MODULE=bench.settings)."""

from django.urls import include, path

from bench.views import ReferenceReportListView, bare_insert, bare_update

urlpatterns = [
    path("bench/reference/reports/", ReferenceReportListView.as_view(), name="bench-reference-reports"),
    path("bench/bare/insert/", bare_insert, name="bench-bare-insert"),
    path("bench/bare/update/<str:code>/", bare_update, name="bench-bare-update"),
    path("", include("open137.urls")),
]
