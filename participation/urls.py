"""Participation pages under /participation/."""

from django.urls import URLPattern, URLResolver, path, register_converter

from participation import views


class PledgeIdConverter:
    """A pledge's id: digits, at most 18 of them, so never a private link's token (32 characters of
    URL-safe base64) and the two addresses below cannot be mistaken for each other."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(PledgeIdConverter, "pledge_id")

app_name = "participation"
urlpatterns: list[URLPattern | URLResolver] = [
    path("points/<int:point_id>/", views.point_page, name="point"),
    path("points/<int:point_id>/empty/", views.point_empty, name="point_empty"),
    path("reports/<str:code>/pledge/", views.report_pledge, name="report_pledge"),
    path("reports/<str:code>/pledge/confirm/", views.pledge_reporter_confirm, name="pledge_reporter_confirm"),
    # The pledger's page and its forms: opened by the session that holds the private link's token.
    path("pledges/<pledge_id:pledge_id>/", views.pledge_page, name="pledge"),
    path("pledges/<pledge_id:pledge_id>/done/", views.pledge_done, name="pledge_done"),
    path("pledges/<pledge_id:pledge_id>/withdraw/", views.pledge_withdraw, name="pledge_withdraw"),
    # The private link (the token is the address), exchanged for the session on first use; the
    # forms of a pledge page opened before the exchange posted here.
    path("pledges/<str:token>/", views.pledge_link, name="pledge_link"),
    path("pledges/<str:token>/done/", views.pledge_link_done, name="pledge_link_done"),
    path("pledges/<str:token>/withdraw/", views.pledge_link_withdraw, name="pledge_link_withdraw"),
]
