"""What citizens do themselves.

- Participation points: places the city stocks for citizens (salt and sand bins before snow, tool
  lending points). Staff manage them; anyone may say one is empty, in one tap. Every change is an
  append-only `PointEvent`.
- Pledges ("I'll take care of it"): on an open report of a category the city marks as doable by
  citizens, a citizen pledges, then says done through a private link; the reporter or staff confirm,
  and the report closes as resolved by citizens through the workflow's `report_transition`. Every
  step is an append-only `PledgeEvent` (and a public event of the report, without names).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from districts.models import District
from geo.srid import GEO_SRID
from issues.models import Report


class PointKind(models.TextChoices):
    SALT_BIN = "salt_bin", _("salt bin")
    SAND_BIN = "sand_bin", _("sand bin")
    SALT_AND_SAND = "salt_and_sand", _("salt-and-sand bin")
    TOOL_LENDING = "tool_lending", _("tool lending point")
    OTHER = "other", _("other")


class PointStatus(models.TextChoices):
    STOCKED = "stocked", _("stocked")
    EMPTY = "empty", _("empty")


class ParticipationPoint(models.Model):
    kind = models.CharField(_("kind"), max_length=20, choices=PointKind.choices)
    name_fa = models.CharField(_("Persian name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    location = models.PointField(_("location"), srid=GEO_SRID)
    # Set from the location by districts' selector (district_for_point) whenever the point is saved
    # through the services; None outside every district.
    district = models.ForeignKey(
        District,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="participation_points",
        verbose_name=_("district"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=PointStatus.choices, default=PointStatus.STOCKED
    )
    # For staff only (opening hours, who refills it): never in a public answer.
    notes = models.TextField(_("notes (staff only)"), blank=True)
    # Each restock starts a new round: a client may report a point empty once per round.
    stock_round = models.PositiveIntegerField(default=1, editable=False)
    empty_reports = models.PositiveIntegerField(_("empty reports this round"), default=0, editable=False)
    reported_empty_at = models.DateTimeField(
        _("first reported empty at"), null=True, blank=True, editable=False
    )
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("participation point")
        verbose_name_plural = _("participation points")
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "reported_empty_at"], name="point_status_idx")]

    def __str__(self) -> str:
        return f"{self.name_fa} ({self.kind})"

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


class PointEvent(models.Model):
    """Append-only history of a point: who did what, when. A citizen is "citizen", never more."""

    class Kind(models.TextChoices):
        CREATED = "created", _("created")
        REPORTED_EMPTY = "reported_empty", _("reported empty")
        RESTOCKED = "restocked", _("restocked")
        EDITED = "edited", _("edited")
        RETIRED = "retired", _("retired")

    point = models.ForeignKey(ParticipationPoint, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("actor")
    )
    actor_label = models.CharField(_("actor label"), max_length=100, blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("participation point event")
        verbose_name_plural = _("participation point events")
        ordering = ["at", "id"]


class PointEmptyReport(models.Model):
    """One client's "it is empty" in one stocking round (a salted hash of the address, as for
    "me too"): the second tap of the same client in the same round changes nothing."""

    point = models.ForeignKey(ParticipationPoint, on_delete=models.CASCADE, related_name="empty_marks")
    stock_round = models.PositiveIntegerField()
    fingerprint = models.CharField(max_length=64)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["point", "stock_round", "fingerprint"], name="point_empty_once_per_client_round"
            )
        ]


class PledgeStatus(models.TextChoices):
    ACTIVE = "active", _("pledged")
    DONE = "done", _("done, awaiting confirmation")
    CONFIRMED = "confirmed", _("confirmed")
    WITHDRAWN = "withdrawn", _("withdrawn")


# A report holds at most one pledge in these states at a time.
LIVE_PLEDGE_STATUSES = (PledgeStatus.ACTIVE, PledgeStatus.DONE)


class Pledge(models.Model):
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="pledges")
    status = models.CharField(
        _("status"), max_length=12, choices=PledgeStatus.choices, default=PledgeStatus.ACTIVE
    )
    # Both optional, and like a reporter's details seen only by the 137 centre: never public.
    name = models.CharField(_("name"), max_length=100, blank=True)
    contact = models.CharField(_("contact (phone or e-mail)"), max_length=200, blank=True)
    # The private pledge link's token, stored as its SHA-256 only.
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("pledge")
        verbose_name_plural = _("pledges")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["report"],
                condition=Q(status__in=["active", "done"]),
                name="one_live_pledge_per_report",
            )
        ]

    def __str__(self) -> str:
        return f"{self.report_id}: {self.status}"


class PledgeEvent(models.Model):
    class Kind(models.TextChoices):
        PLEDGED = "pledged", _("pledged")
        DONE = "done", _("said done")
        CONFIRMED = "confirmed", _("confirmed")
        WITHDRAWN = "withdrawn", _("withdrawn")

    pledge = models.ForeignKey(Pledge, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    # "pledger", "reporter" or a member of staff (then `actor`).
    actor_label = models.CharField(max_length=100, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
