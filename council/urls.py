"""The council dashboard under /council/."""

from django.urls import URLPattern, URLResolver

app_name = "council"
urlpatterns: list[URLPattern | URLResolver] = []
