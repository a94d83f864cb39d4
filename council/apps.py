from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CouncilConfig(AppConfig):
    """The council's dashboard and the public scorecards: numbers, heatmap and hotspots side by side.
    A page app, like `maps` and `console`: it reads only through issues' selectors."""

    name = "council"
    verbose_name = _("Council dashboard")
