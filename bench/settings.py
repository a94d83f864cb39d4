"""Settings of the HTTP server that the API measures start (bench/server.py): the project's own
settings, read from the same environment, with bench/urls.py as the URL configuration, which adds the
bench-only reference views (bench/views.py) next to every URL of the project."""

from open137.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
