"""The municipality's side of a report: who may act (roles and their scope), escalations,
verification checks, the citizen's rating, and the extra links sent to the reporter.

Imported by issues/models.py, so these are models of the `issues` app.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OPERATOR = "operator", _("137 operator")
    SUPERVISOR = "supervisor", _("137 supervisor")
    DISTRICT_MANAGER = "district_manager", _("district manager")
    UNIT_STAFF = "unit_staff", _("unit staff")
    COUNCIL = "council", _("council member")


class StaffProfile(models.Model):
    """A member of staff's role and scope. A district manager's scope is district codes (a region
    includes its sub-districts; codes, not rows, so the scope survives a new boundary set); unit
    staff's is service-area codes. The 137 centre (operators, supervisors) sees every district."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff_profile",
        verbose_name=_("user"),
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    district_codes = ArrayField(
        models.CharField(max_length=50), default=list, blank=True, verbose_name=_("district codes")
    )
    service_area_codes = ArrayField(
        models.CharField(max_length=80), default=list, blank=True, verbose_name=_("service area codes")
    )

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"


class Escalation(models.Model):
    """One rung of a report's escalation ladder, reached once: the unique constraint is what makes
    the periodic job fire each escalation exactly once, however often and wherever it runs."""

    class Level(models.IntegerChoices):
        DISTRICT_MANAGER = 1, _("to the district manager")
        SUPERVISOR = 2, _("to the 137 supervisor")

    report = models.ForeignKey("issues.Report", on_delete=models.CASCADE, related_name="escalations")
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        constraints = [models.UniqueConstraint(fields=["report", "level"], name="one_escalation_per_level")]

    def __str__(self) -> str:
        return f"{self.report_id}: {self.get_level_display()}"


class VerificationCheck(models.Model):
    """A done report drawn for a 137 check of the unit's work (a call-back or a field visit)."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("to check")
        CONFIRMED = "confirmed", _("confirmed")
        NOT_FIXED = "not_fixed", _("not fixed")
        COULD_NOT_VERIFY = "could_not_verify", _("could not verify")

    report = models.ForeignKey("issues.Report", on_delete=models.CASCADE, related_name="verification_checks")
    # The unit whose work is checked: unit accuracy counts by it, even if the report moves later.
    service_area = models.ForeignKey(
        "districts.ServiceArea", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, default=Outcome.PENDING)
    method = models.CharField(_("method"), max_length=20, blank=True)  # call-back, field visit
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("sampled at"), auto_now_add=True)
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("verification check")
        verbose_name_plural = _("verification checks")
        indexes = [models.Index(fields=["outcome", "created_at"])]

    def __str__(self) -> str:
        return f"{self.report_id}: {self.get_outcome_display()}"


class SatisfactionRating(models.Model):
    """The citizen's rating once the report is closed: one per report."""

    class Reason(models.TextChoices):
        SPEED = "speed", _("speed")
        QUALITY = "quality", _("quality of the work")
        COURTESY = "courtesy", _("courtesy")
        COMMUNICATION = "communication", _("communication")

    report = models.OneToOneField("issues.Report", on_delete=models.CASCADE, related_name="rating")
    # Who did the work and where, as when rated: the averages per unit and district count by these.
    service_area = models.ForeignKey(
        "districts.ServiceArea", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    score = models.PositiveSmallIntegerField(
        _("score"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    reasons = ArrayField(
        models.CharField(max_length=20, choices=Reason.choices),
        default=list,
        blank=True,
        verbose_name=_("reasons"),
    )
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("rated at"), auto_now_add=True)

    class Meta:
        verbose_name = _("satisfaction rating")
        verbose_name_plural = _("satisfaction ratings")
        constraints = [
            models.CheckConstraint(condition=models.Q(score__gte=1, score__lte=5), name="rating_score_1_to_5")
        ]

    def __str__(self) -> str:
        return f"{self.report_id}: {self.score}/5"


class ReportAccessToken(models.Model):
    """A further private link for the reporter (the first one's hash is on the report): sent when
    the unit reports the work done, so the citizen can confirm it or say it is not fixed, and rate.
    Only the SHA-256 is kept, as for the first."""

    report = models.ForeignKey("issues.Report", on_delete=models.CASCADE, related_name="access_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=20, default="feedback")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.report_id}: {self.purpose}"
