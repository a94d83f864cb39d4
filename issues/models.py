"""Categories (services), reports and their append-only events."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

from districts.models import Department, District, RoutingRule, ServiceArea
from geo.srid import GEO_SRID


class MessageKind(models.TextChoices):
    SERVICE_REQUEST = "service_request", _("service request")
    COMPLAINT = "complaint", _("complaint")
    CRITICISM = "criticism", _("criticism")
    SUGGESTION = "suggestion", _("suggestion")
    DISSATISFACTION = "dissatisfaction", _("dissatisfaction")
    APPRECIATION = "appreciation", _("appreciation")


class Category(models.Model):
    code = models.SlugField(_("code"), max_length=60, unique=True)
    name_fa = models.CharField(_("Persian name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200)
    description_fa = models.TextField(_("Persian description"), blank=True)
    description_en = models.TextField(_("English description"), blank=True)
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="categories", verbose_name=_("department")
    )
    kind = models.CharField(
        _("message kind"), max_length=20, choices=MessageKind.choices, default=MessageKind.SERVICE_REQUEST
    )
    location_required = models.BooleanField(
        _("location required"),
        default=True,
        help_text=_(
            "Problems need a point; a suggestion or an appreciation may have none and is routed by category alone."
        ),
    )
    icon = models.CharField(_("icon"), max_length=40, blank=True)
    duplicate_radius_m = models.PositiveIntegerField(_("duplicate radius (m)"), default=50)
    sla_acknowledge_hours = models.PositiveIntegerField(
        _("SLA: acknowledge within (working hours)"), default=8
    )
    sla_resolve_hours = models.PositiveIntegerField(_("SLA: resolve within (working hours)"), default=72)
    active = models.BooleanField(_("active"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=100)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["department__code", "order", "code"]

    def __str__(self) -> str:
        return f"{self.name_fa} / {self.name_en}"


class ReportStatus(models.TextChoices):
    RECEIVED = "received", _("received")
    FORWARDED = "forwarded", _("forwarded to the unit")
    ACKNOWLEDGED = "acknowledged", _("acknowledged by the unit")
    IN_PROGRESS = "in_progress", _("in progress")
    DONE = "done", _("done by the unit")
    VERIFIED = "verified", _("verified")
    CLOSED = "closed", _("closed")
    TRANSFERRED = "transferred", _("transferred")
    NOT_RESPONSIBLE = "not_responsible", _("not responsible / referred")
    DUPLICATE = "duplicate", _("duplicate")
    REOPENED = "reopened", _("reopened")
    RESOLVED_BY_CITIZENS = "resolved_by_citizens", _("resolved by citizens")


OPEN_STATUSES = frozenset(
    {
        ReportStatus.RECEIVED,
        ReportStatus.FORWARDED,
        ReportStatus.ACKNOWLEDGED,
        ReportStatus.IN_PROGRESS,
        ReportStatus.DONE,
        ReportStatus.TRANSFERRED,
        ReportStatus.REOPENED,
    }
)


class Channel(models.TextChoices):
    WEB = "web", _("web")
    PHONE = "phone", _("137 phone call")
    API = "api", _("API")
    OPEN311 = "open311", _("Open311")
    IMPORT = "import", _("import")


class Report(models.Model):
    tracking_code = models.CharField(_("tracking code"), max_length=16, unique=True)
    city = models.CharField(_("city"), max_length=40, default="qazvin", db_index=True)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="reports", verbose_name=_("category")
    )
    kind = models.CharField(_("message kind"), max_length=20, choices=MessageKind.choices)
    description = models.TextField(_("description"), blank=True)
    location = models.PointField(_("location"), srid=GEO_SRID, null=True, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    status = models.CharField(
        _("status"), max_length=24, choices=ReportStatus.choices, default=ReportStatus.RECEIVED, db_index=True
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.WEB)
    # Routing result, kept so the report's history survives boundary changes.
    district = models.ForeignKey(
        District,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reports",
        verbose_name=_("district"),
    )
    service_area = models.ForeignKey(
        ServiceArea,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reports",
        verbose_name=_("service area"),
    )
    routing_rule = models.CharField(_("routing rule"), max_length=10, choices=RoutingRule.choices)
    routing_distance_m = models.FloatField(_("distance to the district (m)"), default=0)
    routed_at = models.DateTimeField(_("routed at"))
    # Private: only 137 staff see these; no public response ever carries them.
    reporter_name = models.CharField(_("reporter name"), max_length=200, blank=True)
    reporter_phone = models.CharField(_("reporter phone"), max_length=40, blank=True)
    reporter_email = models.EmailField(_("reporter e-mail"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "category"])]

    def __str__(self) -> str:
        return self.tracking_code

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ReportEvent(models.Model):
    """Append-only history of a report: every change of state or routing is one row."""

    class Kind(models.TextChoices):
        CREATED = "created", _("created")
        STATUS = "status", _("status changed")
        REROUTED = "rerouted", _("re-routed")
        NOTE = "note", _("note")

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("actor")
    )
    actor_label = models.CharField(
        _("actor label"),
        max_length=100,
        blank=True,
        help_text=_("A command or system process, when no user acted."),
    )
    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    from_status = models.CharField(_("from status"), max_length=24, blank=True)
    to_status = models.CharField(_("to status"), max_length=24, blank=True)
    note = models.TextField(_("note"), blank=True)
    public = models.BooleanField(_("public"), default=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        verbose_name = _("report event")
        verbose_name_plural = _("report events")
        ordering = ["at", "id"]
