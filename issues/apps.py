from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


class IssuesConfig(AppConfig):
    name = "issues"
    verbose_name = _("Reports")

    def ready(self) -> None:
        from issues import checks  # registers the system checks

        # The SMS gateway's class can only be loaded once the apps are: the settings checked the
        # rest before start-up; production does not start with a gateway that does not exist either.
        if settings.PRODUCTION:
            problem = checks.sms_backend_problem()
            if problem:
                raise ImproperlyConfigured(problem)
