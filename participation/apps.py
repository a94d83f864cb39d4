from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ParticipationConfig(AppConfig):
    """What citizens do themselves: the places the city stocks for them (salt and sand bins, tool
    lending) and pledges to take care of a small open report. Above `issues`: a pledge closes a report
    only through the workflow's one service call."""

    name = "participation"
    verbose_name = _("Participation")
