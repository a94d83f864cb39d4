"""Vector tiles under /tiles/ (namespace `tiles`); the heatmap is in the API's list (open137/urls.py).

The tile address is read by the view, not by the URL's converters: a letter or a number out of range
is then a 400 that says what is wrong, not a 404."""

from django.urls import path

from issues.oversight.views import report_tile

urlpatterns = [
    path("reports/<str:z>/<str:x>/<str:y>.mvt", report_tile, name="reports"),
]
