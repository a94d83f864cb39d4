"""The write limit on subscription requests, per client address, like the report form's."""

from __future__ import annotations

from issues.throttling import ReportCreateThrottle


class AlertSubscribeThrottle(ReportCreateThrottle):
    """Each request may send a confirmation message to someone: OPEN137_RATE_ALERTS, 10 an hour
    per address by default (an empty setting turns it off). The per-contact limit of the service
    (alerts.services.CONFIRMATIONS_PER_CONTACT_PER_DAY) holds whatever the address."""

    scope = "alerts"
    rate_setting = "OPEN137_RATE_ALERTS"
    rate_default = "10/hour"
