"""The project's own report API under /api/ (namespace `api`): reports, support, categories, docs."""

from django.urls import path
from drf_spectacular.views import SpectacularSwaggerView

from issues.api.categories import CategoryListApi
from issues.api.locate import LocateApi
from issues.api.private_link import ReportFeedbackApi, ReportRatingApi, ReportStopMessagesApi
from issues.api.reports import ReportDetailApi, ReportListCreateApi
from issues.api.support import ReportNearbyApi, ReportSupportApi

urlpatterns = [
    path("locate/", LocateApi.as_view(), name="locate"),
    path("reports/", ReportListCreateApi.as_view(), name="report-list"),
    # Before <code>/: "nearby" is not a tracking code.
    path("reports/nearby/", ReportNearbyApi.as_view(), name="report-nearby"),
    path("reports/<str:code>/", ReportDetailApi.as_view(), name="report-detail"),
    path("reports/<str:code>/support/", ReportSupportApi.as_view(), name="report-support"),
    # The reporter's own, with the private token in the body.
    path("reports/<str:code>/feedback/", ReportFeedbackApi.as_view(), name="report-feedback"),
    path("reports/<str:code>/rating/", ReportRatingApi.as_view(), name="report-rating"),
    path("reports/<str:code>/stop-messages/", ReportStopMessagesApi.as_view(), name="report-stop-messages"),
    path("categories/", CategoryListApi.as_view(), name="category-list"),
    # Swagger UI from the drf-spectacular-sidecar package (static files, no CDN).
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
