from django.urls import path

from maps import views, views_map

app_name = "maps"
# Tracking codes are upper-case letters and digits; the pattern takes any case, dashes and spaces
# as typed or read out, and the view redirects to the canonical address.
urlpatterns = [
    path("", views.home, name="home"),
    path("map/", views_map.public_map, name="map"),
    path("report/", views.report, name="report"),
    path("report/thanks/<str:code>/", views.report_thanks, name="report_thanks"),
    path("track/", views.track_lookup, name="track_lookup"),
    path("track/<str:code>/", views.track, name="track"),
    path("track/<str:code>/info/", views.track_info, name="track_info"),
    path("track/<str:code>/feedback/", views.track_feedback, name="track_feedback"),
    path("track/<str:code>/rating/", views.track_rating, name="track_rating"),
    path("track/<str:code>/stop-messages/", views.track_stop_messages, name="track_stop_messages"),
    path("track/<str:code>/support/", views.track_support, name="track_support"),
]
