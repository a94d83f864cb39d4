"""The staff API under /api/staff/ (namespace `api`); the token endpoint is /api/auth/token/
(open137/urls.py)."""

from django.urls import path

from issues.staff_api.views import StaffReportActionApi, StaffReportDetailApi, StaffReportListApi

urlpatterns = [
    path("reports/", StaffReportListApi.as_view(), name="staff-report-list"),
    path("reports/<str:code>/", StaffReportDetailApi.as_view(), name="staff-report-detail"),
    path("reports/<str:code>/actions/", StaffReportActionApi.as_view(), name="staff-report-actions"),
]
