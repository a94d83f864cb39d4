"""Alert subscriptions: someone asks to hear of new reports in a district, within a radius of a
point, or in a category (or a combination), by e-mail or SMS.

The contact is private: it is only ever written into the outbox messages sent to it, never into a
public answer, a feed or a log line in full. Double opt-in: a subscription is `pending` until the
link sent to the contact is followed, so nobody subscribes someone else's address or phone. Every
message carries a stop link; its token is random and only its SHA-256 is stored, one per message.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from geo.srid import GEO_SRID
from issues.models import Category, OutboxMessage, Report

# A radius around a point: from a street corner to a neighbourhood; a city-wide radius is what the
# district and category subscriptions are for.
RADIUS_MIN_M = 50
RADIUS_MAX_M = 5000


class Subscription(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("waiting for confirmation")
        ACTIVE = "active", _("active")
        STOPPED = "stopped", _("stopped")

    channel = models.CharField(_("channel"), max_length=8, choices=OutboxMessage.Channel.choices)
    # Private: an e-mail address or a phone number as the gateway takes it (issues.validation).
    contact = models.CharField(_("contact"), max_length=254)
    language = models.CharField(_("language"), max_length=2, choices=settings.LANGUAGES, default="fa")
    # A district by code, not by row: codes survive a new boundary set. A region's code also matches
    # the reports routed to its sub-districts.
    district_code = models.CharField(_("district code"), max_length=50, blank=True)
    category = models.ForeignKey(
        Category,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("category"),
    )
    center = models.PointField(_("centre"), srid=GEO_SRID, null=True, blank=True)
    radius_m = models.PositiveIntegerField(_("radius (m)"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    stopped_at = models.DateTimeField(_("stopped at"), null=True, blank=True)

    class Meta:
        verbose_name = _("alert subscription")
        verbose_name_plural = _("alert subscriptions")
        constraints = [
            models.CheckConstraint(
                name="alert_subscription_has_a_criterion",
                condition=~Q(district_code="") | Q(category__isnull=False) | Q(center__isnull=False),
            ),
            models.CheckConstraint(
                name="alert_subscription_radius_bounded",
                condition=Q(center__isnull=True, radius_m__isnull=True)
                | Q(center__isnull=False, radius_m__gte=RADIUS_MIN_M, radius_m__lte=RADIUS_MAX_M),
            ),
            models.CheckConstraint(
                name="alert_subscription_active_is_confirmed",
                condition=~Q(status="active") | Q(confirmed_at__isnull=False),
            ),
        ]
        indexes = [
            # The sending job reads the active ones only.
            models.Index(
                fields=["created_at"], name="alert_subscription_active", condition=Q(status="active")
            ),
            # The per-contact limit on confirmation messages.
            models.Index(fields=["contact", "created_at"], name="alert_subscription_contact"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.channel} {self.status}"


class SubscriptionToken(models.Model):
    """A link's secret: the confirmation link, or the stop link (one per message sent). Only the
    SHA-256 of the token is kept; the token itself is in the message and nowhere else (the outbox
    blanks it from its stored copy once sent)."""

    class Purpose(models.TextChoices):
        CONFIRM = "confirm", _("confirm")
        STOP = "stop", _("stop")

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="tokens")
    purpose = models.CharField(max_length=8, choices=Purpose.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)


class SubscriptionEvent(models.Model):
    """Every change of a subscription's state, append-only (alerts/events.py writes them)."""

    class Kind(models.TextChoices):
        CREATED = "created", _("created")
        CONFIRMATION_RESENT = "resent", _("confirmation sent again")
        CONFIRMED = "confirmed", _("confirmed")
        STOPPED = "stopped", _("stopped")

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now)
    # How: "web", "api", "link" (a link in a message), "admin".
    via = models.CharField(max_length=10, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]


class AlertDelivery(models.Model):
    """One report told to one subscription: the unique pair is what makes the sending job exactly
    once, however often and however concurrently it runs."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        OutboxMessage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscription", "report"], name="alert_delivery_once"),
        ]


class AlertWatermark(models.Model):
    """How far the sending job has looked: reports created up to `reports_until`. The next run looks
    again a little before it (reports whose transaction committed late); the deliveries' unique pair
    keeps that overlap from sending twice."""

    name = models.CharField(max_length=20, primary_key=True)
    reports_until = models.DateTimeField()
