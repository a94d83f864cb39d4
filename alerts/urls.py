"""Alert pages and Atom feeds under /alerts/."""

from django.urls import URLPattern, URLResolver, path
from django.views.decorators.csrf import csrf_exempt

from alerts import feeds, views

app_name = "alerts"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.subscribe, name="subscribe"),
    path("sent/", views.sent, name="sent"),
    path("confirm/", views.confirm, name="confirm"),
    # The token is the credential; a mail client's one-click unsubscribe POSTs without a CSRF token.
    path("stop/", csrf_exempt(views.stop), name="stop"),
    path("feeds/all.atom", feeds.all_feed, name="feed-all"),
    path("feeds/district/<str:code>.atom", feeds.district_feed, name="feed-district"),
    path("feeds/category/<str:code>.atom", feeds.category_feed, name="feed-category"),
]
