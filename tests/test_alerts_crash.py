"""Issue 9 attacked: the alerts' sending job killed midway, then run again. Whatever point it dies
at, each subscriber hears of each report exactly once: not twice after the retry, and none missed
(the job that was down for hours, a report committed a little after a run). How deliveries are
recorded: alerts/sending.py (one transaction: delivery rows, outbox messages, watermark)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import sending
from alerts.models import AlertDelivery, AlertWatermark, Subscription
from alerts.sending import OVERLAP, WATERMARK, alerts_send
from issues.models import Report
from tests.test_alerts import _alerts_for, _codes, _report, _subscribed

pytestmark = pytest.mark.django_db


class Killed(Exception):
    """The worker's process ended here (SIGKILL, out of memory, a deploy)."""


def _watermark():
    return AlertWatermark.objects.filter(name=WATERMARK).values_list("reports_until", flat=True).first()


@pytest.mark.parametrize("dies_in", ["_compose", "outbox_queue", "_deliveries_link"])
def test_a_run_killed_midway_leaves_nothing_and_the_retry_tells_each_report_once(city, monkeypatch, dies_in):
    _subscribed("a@example.org", district_code="R1")
    _subscribed("09121234567", category_code="pothole")
    reports = [_report(city), _report(city, "s11")]
    alerts_send(commit=True)  # an earlier run: the watermark exists
    before = _watermark()
    later = [_report(city), _report(city, "r2")]
    original = getattr(sending, dies_in)

    def dies(*args, **kwargs):
        original(*args, **kwargs)
        raise Killed

    monkeypatch.setattr(sending, dies_in, dies)
    with pytest.raises(Killed):
        alerts_send(commit=True)
    monkeypatch.setattr(sending, dies_in, original)
    # Nothing of the killed run remains: no delivery claims a report nobody was told.
    assert _watermark() == before
    assert AlertDelivery.objects.filter(report__in=later).count() == 0
    assert AlertDelivery.objects.filter(message__isnull=True).count() == 0
    retry = alerts_send(commit=True)
    assert len(retry.messages) == 3  # a: one R1 report; the phone: both potholes
    again = alerts_send(commit=True)
    assert again.messages == []
    for contact, expected in (
        ("a@example.org", {r.tracking_code for r in [*reports, later[0]]}),
        ("09121234567", {r.tracking_code for r in [*reports, *later]}),
    ):
        told = _alerts_for(contact)
        assert _codes(told) == expected
        assert sum(len(_codes([m])) for m in told) == len(expected)  # no report told twice


def test_a_job_down_for_hours_misses_nothing(city):
    _subscribed(district_code="R1")
    alerts_send(commit=True)
    report = _report(city)
    Report.objects.filter(pk=report.pk).update(created_at=timezone.now() + timedelta(minutes=1))
    # The next run only hours later (the worker was down): the report is in its window.
    run = alerts_send(commit=True, now=timezone.now() + timedelta(hours=6))
    assert [m.report_codes for m in run.messages] == [[report.tracking_code]]


def test_a_report_committed_just_after_a_run_is_told_by_the_next(city):
    subscription = _subscribed(district_code="R1")
    Subscription.objects.filter(pk=subscription.pk).update(confirmed_at=timezone.now() - timedelta(hours=1))
    first = alerts_send(commit=True)
    # Its transaction began before the run's moment (created_at) but committed after the run read.
    late = _report(city)
    Report.objects.filter(pk=late.pk).update(created_at=first.until - OVERLAP / 2)
    second = alerts_send(commit=True)
    assert [m.report_codes for m in second.messages] == [[late.tracking_code]]
    assert alerts_send(commit=True).messages == []
    assert len(_alerts_for("sub@example.org")) == 1


# --- What a hostile description can do in an alert -------------------------------------------------


@pytest.mark.parametrize("language", ["fa", "en"])
def test_a_description_that_is_a_link_is_not_a_link_in_the_alert_email(city, settings, language):
    """Anyone may file a report; every subscriber of its district gets its description. A
    description that is a URL on a line of its own became a clickable link in the city's own
    e-mail (the outbox links a line that starts with http), right above the real stop link."""
    from django.conf import settings as django_settings
    from django.core import mail

    from issues.outbox import outbox_pending_send

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _subscribed("sub@example.org", district_code="R1", language=language)
    phishing = "https://evil.example/alerts/stop/?t=click-here-to-stop"
    report = _report(city, description=phishing)
    alerts_send(commit=True)
    outbox_pending_send()
    [email] = [m for m in mail.outbox if "sub@example.org" in m.to and report.tracking_code in m.body]
    assert "evil.example" in email.body  # the citizen's text is told, as text
    html_part = email.alternatives[0][0]
    links = re.findall(r'href="([^"]*)"', html_part)
    assert links and all(link.startswith(django_settings.OPEN137_PUBLIC_URL) for link in links), links
