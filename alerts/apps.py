from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    """Subscriptions to new reports (a district, a radius around a point, a category) by e-mail or SMS,
    and the Atom feeds. Above `issues`: it reads new reports through issues' selectors and sends through
    its outbox; `issues` never imports it."""

    name = "alerts"
    verbose_name = _("Alerts")

    def ready(self) -> None:
        # The prune's settings (alerts/forgetting.py) refuse to start when wrong, as the others do
        # in open137/settings.py, rather than fail at 03:41.
        from alerts.forgetting import prune_batch_size, stopped_days

        stopped_days()
        prune_batch_size()
