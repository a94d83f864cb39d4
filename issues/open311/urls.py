"""Open311 GeoReport v2 under /open311/v2/.

The format is the URL's suffix (`services.xml`, `services.json`). Anything else under this prefix,
a suffix we do not speak included, is the spec's 404 error document rather than an HTML page.
"""

from django.urls import path, re_path

from issues.open311 import views

# The suffix: anything after the last dot, so that an unknown one reaches the view and gets a 404
# in the spec's format.
FMT = r"\.(?P<fmt>[^/.]+)"

urlpatterns = [
    path("", views.root, name="root"),
    re_path(rf"^discovery{FMT}$", views.discovery, name="discovery"),
    re_path(rf"^services{FMT}$", views.services, name="services"),
    re_path(rf"^services/(?P<service_code>[^/]+?){FMT}$", views.service_definition, name="service"),
    re_path(rf"^requests{FMT}$", views.requests, name="requests"),
    re_path(rf"^requests/(?P<service_request_id>[^/]+?){FMT}$", views.request_detail, name="request"),
    re_path(rf"^tokens/(?P<token>[^/]+?){FMT}$", views.token, name="token"),
    re_path(rf"^servicerequestupdates{FMT}$", views.request_updates, name="updates"),
    re_path(r"^.*$", views.not_found),
]
