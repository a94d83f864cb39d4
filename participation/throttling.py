"""The per-client limits on participation's public writes, counted like the report endpoints'
(issues/throttling.py: per address, in the database, rates from settings)."""

from __future__ import annotations

from issues.throttling import _SettingsRateThrottle


class PointEmptyThrottle(_SettingsRateThrottle):
    """ "It is empty" on a participation point: every tap counts, a repeated one too. The setting
    OPEN137_RATE_POINT_EMPTY, 30 an hour per address by default (a citizen walking past a few bins)."""

    scope = "point_empty"
    rate_setting = "OPEN137_RATE_POINT_EMPTY"
    rate_default = "30/hour"


class PledgeThrottle(_SettingsRateThrottle):
    """Pledges and their steps (done, withdrawn, confirmed) from one address: OPEN137_RATE_PLEDGES,
    20 an hour by default."""

    scope = "pledges"
    rate_setting = "OPEN137_RATE_PLEDGES"
    rate_default = "20/hour"
