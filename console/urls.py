"""The staff console under /console/. The 137 call screen (views/call.py) is added here as
`console:call` when it lands; the header links to it only once the name resolves."""

from django.urls import path

from console.views import auth, inbox, queues, report

app_name = "console"
urlpatterns = [
    path("login/", auth.ConsoleLoginView.as_view(), name="login"),
    path("logout/", auth.ConsoleLogoutView.as_view(), name="logout"),
    path("", inbox.inbox, name="inbox"),
    path("reports/<str:code>/", report.report_page, name="report"),
    path("reports/<str:code>/action/", report.report_action, name="report_action"),
    path("triage/", queues.triage, name="triage"),
    path("verification/", queues.verification, name="verification"),
]
