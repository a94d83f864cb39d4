"""The council dashboard under /council/."""

from django.urls import URLPattern, URLResolver, path

from council import views

app_name = "council"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.dashboard, name="dashboard"),
    path("scorecards/", views.scorecards_public, name="scorecards"),
]
