"""Messages to citizens through the transactional outbox (to be completed)."""

from __future__ import annotations

from issues.models import Report


def report_created_notify(*, report: Report, private_token: str) -> None:
    """Queue the tracking code by SMS and/or e-mail, in the caller's transaction."""
