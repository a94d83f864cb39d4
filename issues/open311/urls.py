"""Open311 GeoReport v2 under /open311/v2/.

The format is the URL's suffix (`services.xml`, `services.json`). Anything else under this prefix,
a suffix we do not speak included, is the spec's 404 error document rather than an HTML page.

Discovery publishes the base URL without a trailing slash (`…/open311/v2`), as clients append
`/services.xml` to it; one given the base with its slash makes `…/open311/v2//services.xml` of it, so
slashes are taken in any number before and between the parts (reversing gives single ones).
"""

from django.urls import re_path

from issues.open311 import views

# The suffix: anything after the last dot, so that an unknown one reaches the view and gets a 404
# in the spec's format. `[/]*`: leading slashes in any number (Django warns of a pattern starting
# with "/", which is about a mistyped route, not this).
FMT = r"\.(?P<fmt>[^/.]+)"

urlpatterns = [
    re_path(r"^[/]*$", views.root, name="root"),
    re_path(rf"^[/]*discovery{FMT}$", views.discovery, name="discovery"),
    re_path(rf"^[/]*services{FMT}$", views.services, name="services"),
    re_path(rf"^[/]*services/+(?P<service_code>[^/]+?){FMT}$", views.service_definition, name="service"),
    re_path(rf"^[/]*requests{FMT}$", views.requests, name="requests"),
    re_path(rf"^[/]*requests/+(?P<service_request_id>[^/]+?){FMT}$", views.request_detail, name="request"),
    re_path(rf"^[/]*tokens/+(?P<token>[^/]+?){FMT}$", views.token, name="token"),
    re_path(rf"^[/]*servicerequestupdates{FMT}$", views.request_updates, name="updates"),
    re_path(r"^.*$", views.not_found),
]
