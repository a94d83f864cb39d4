from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView

from districts.apis import DistrictListGeoJsonApi
from issues.oversight.views import HeatmapApi
from issues.staff_api.views import StaffTokenApi

api_patterns: list[URLPattern | URLResolver] = [
    path("districts/", DistrictListGeoJsonApi.as_view(), name="district-list"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("heatmap/", HeatmapApi.as_view(), name="heatmap"),
    path("auth/token/", StaffTokenApi.as_view(), name="auth-token"),
    path("staff/", include("issues.staff_api.urls")),
    path("scorecards/", include("issues.oversight.scorecard_urls")),
    path("hotspots/", include("issues.oversight.hotspot_urls")),
    path("alerts/", include("alerts.api_urls")),
    path("participation/", include("participation.api_urls")),
    path("", include("issues.api.urls")),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    path("api/", include((api_patterns, "api"))),
    path("open311/v2/", include(("issues.open311.urls", "open311"))),
    path("tiles/", include(("issues.oversight.urls", "tiles"))),
    path("i18n/", include("django.conf.urls.i18n")),
    path("console/", include(("console.urls", "console"))),
    path("council/", include(("council.urls", "council"))),
    path("alerts/", include(("alerts.urls", "alerts"))),
    path("participation/", include(("participation.urls", "participation"))),
    path("", include("maps.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
