from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    """Staff pages (137 operators and supervisors, district managers, unit staff, council) under
    /console/. Like `maps`, a page app: it reads and writes only through issues' selectors and
    services, and every page checks the member of staff's scope."""

    name = "console"
    verbose_name = _("Staff console")
