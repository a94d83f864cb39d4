from django.urls import path

from maps import views_map
from maps.views import home, private, submit, track

app_name = "maps"
# Tracking codes are upper-case letters and digits; the pattern takes any case, dashes and spaces
# as typed or read out, and the view redirects to the canonical address.
urlpatterns = [
    path("", home.home, name="home"),
    path("map/", views_map.public_map, name="map"),
    path("report/", submit.report, name="report"),
    path("report/thanks/<str:code>/", submit.report_thanks, name="report_thanks"),
    path("track/", track.track_lookup, name="track_lookup"),
    path("track/<str:code>/", track.track, name="track"),
    path("track/<str:code>/info/", private.track_info, name="track_info"),
    path("track/<str:code>/feedback/", private.track_feedback, name="track_feedback"),
    path("track/<str:code>/rating/", private.track_rating, name="track_rating"),
    path("track/<str:code>/stop-messages/", private.track_stop_messages, name="track_stop_messages"),
    path("track/<str:code>/support/", track.track_support, name="track_support"),
]
