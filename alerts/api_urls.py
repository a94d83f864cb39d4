"""Alert subscriptions in the API, under /api/alerts/."""

from django.urls import URLPattern, URLResolver, path

from alerts.api import SubscriptionCreateApi

urlpatterns: list[URLPattern | URLResolver] = [
    path("subscriptions/", SubscriptionCreateApi.as_view(), name="alerts-subscription-create"),
]
