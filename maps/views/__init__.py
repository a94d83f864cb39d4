"""The citizen's pages, one module per job: the home page (home), report a problem and its thank-you
page with the tracking code (submit), the tracking page with "me too" (track) and the reporter's
writes through the private link (private). The public map is maps/views_map.py.

Everything works as plain HTML forms without JavaScript; the scripts only add the map pin, "use my
location" and the list of open reports nearby.
"""
