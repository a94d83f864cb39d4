"""The staff console under /console/, with the 137 call screen (views/call.py) as `console:call`."""

from django.urls import include, path

from console.views import auth, call, inbox, participation, queues, report

app_name = "console"
urlpatterns = [
    path("login/", auth.ConsoleLoginView.as_view(), name="login"),
    path("logout/", auth.ConsoleLogoutView.as_view(), name="logout"),
    path("", inbox.inbox, name="inbox"),
    path("reports/<str:code>/", report.report_page, name="report"),
    path("reports/<str:code>/action/", report.report_action, name="report_action"),
    path("triage/", queues.triage, name="triage"),
    path("verification/", queues.verification, name="verification"),
    path("call/", call.call_screen, name="call"),
    path("call/filed/<str:code>/", call.call_filed, name="call_filed"),
    path("call/places/", call.call_places, name="call_places"),
    path("call/caller/", call.call_caller, name="call_caller"),
    path("participation/", include(participation.urlpatterns)),
]
