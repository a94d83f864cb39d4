"""Participation points and pledges in the API, under /api/participation/."""

from django.urls import URLPattern, URLResolver, path

from participation import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("points/", api.PointListApi.as_view(), name="participation-point-list"),
    path("points/<int:point_id>/empty/", api.PointEmptyApi.as_view(), name="participation-point-empty"),
    path("pledges/", api.PledgeCreateApi.as_view(), name="participation-pledge-create"),
    path("pledges/done/", api.PledgeDoneApi.as_view(), name="participation-pledge-done"),
    path("pledges/withdraw/", api.PledgeWithdrawApi.as_view(), name="participation-pledge-withdraw"),
    path("pledges/confirm/", api.PledgeConfirmApi.as_view(), name="participation-pledge-confirm"),
]
