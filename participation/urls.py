"""Participation pages under /participation/."""

from django.urls import URLPattern, URLResolver, path

from participation import views

app_name = "participation"
urlpatterns: list[URLPattern | URLResolver] = [
    path("points/<int:point_id>/", views.point_page, name="point"),
    path("points/<int:point_id>/empty/", views.point_empty, name="point_empty"),
    path("reports/<str:code>/pledge/", views.report_pledge, name="report_pledge"),
    path("reports/<str:code>/pledge/confirm/", views.pledge_reporter_confirm, name="pledge_reporter_confirm"),
    # The pledger's private link: the token is the address.
    path("pledges/<str:token>/", views.pledge_page, name="pledge"),
    path("pledges/<str:token>/done/", views.pledge_done, name="pledge_done"),
    path("pledges/<str:token>/withdraw/", views.pledge_withdraw, name="pledge_withdraw"),
]
