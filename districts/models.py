"""Districts (with their subdivided pieces), boundary sets, departments and service areas.

A boundary set is one version of the city's map of districts: an import creates a new set, and
exactly one set is active at a time. Reports keep the district row they were routed to, so their
history survives later boundary changes.
"""

from __future__ import annotations

from django.contrib.gis.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from geo.srid import GEO_SRID


class BoundarySet(models.Model):
    name = models.CharField(_("name"), max_length=200)
    source = models.CharField(
        _("source"), max_length=500, blank=True, help_text=_("File or origin of the boundaries.")
    )
    notes = models.TextField(_("notes"), blank=True)
    active = models.BooleanField(_("active"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("boundary set")
        verbose_name_plural = _("boundary sets")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=Q(active=True), name="one_active_boundary_set"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name}{' ✓' if self.active else ''}"


class DistrictLevel(models.IntegerChoices):
    # The jurisdiction is the city's outer limit; districts nest inside it, deeper levels win routing.
    JURISDICTION = 0, _("jurisdiction")
    REGION = 1, _("region")
    SUB_DISTRICT = 2, _("sub-district")


class RoutingRule(models.TextChoices):
    # How a report found its district: inside one (covers), given to the nearest one within the
    # tolerance (flagged for a look), by category alone (no location), or left to 137 triage.
    COVERS = "covers", _("inside the district")
    NEAREST = "nearest", _("nearest district within the tolerance")
    CATEGORY = "category", _("by category (no location)")
    TRIAGE = "triage", _("137 triage (outside every district)")


class District(models.Model):
    boundary_set = models.ForeignKey(
        BoundarySet, on_delete=models.CASCADE, related_name="districts", verbose_name=_("boundary set")
    )
    code = models.CharField(_("code"), max_length=50)
    name_fa = models.CharField(_("Persian name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    level = models.PositiveSmallIntegerField(
        _("level"), choices=DistrictLevel.choices, default=DistrictLevel.REGION
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent"),
    )
    population = models.PositiveIntegerField(_("population"), null=True, blank=True)
    boundary = models.MultiPolygonField(_("boundary"), srid=GEO_SRID)
    # Area in m² (UTM), kept with the boundary: overlaps are broken in favour of the smaller district.
    area_m2 = models.FloatField(_("area (m²)"), default=0, editable=False)
    boundary_updated_at = models.DateTimeField(_("boundary updated at"), auto_now_add=True)

    class Meta:
        verbose_name = _("district")
        verbose_name_plural = _("districts")
        ordering = ["boundary_set", "level", "code"]
        constraints = [
            models.UniqueConstraint(fields=["boundary_set", "code"], name="district_code_unique_in_set")
        ]
        indexes = [models.Index(fields=["code"])]

    def __str__(self) -> str:
        return f"{self.code} {self.name_fa}"


class DistrictPiece(models.Model):
    """One ST_Subdivide piece of a district's boundary; point lookups run on these.

    Small pieces keep `covers` fast on detailed boundaries (thousands of vertices); they are rebuilt in
    the same transaction as the boundary, never edited by hand.
    """

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="pieces")
    geom = models.PolygonField(srid=GEO_SRID, spatial_index=True)

    class Meta:
        verbose_name = _("district piece")
        verbose_name_plural = _("district pieces")


class Department(models.Model):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    name_fa = models.CharField(_("Persian name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name_fa} ({self.code})"


class ServiceArea(models.Model):
    """A department's unit for an area: it follows a district (by code, so it survives new boundary
    sets and covers that district's sub-districts), or has its own polygon (a snow-clearing zone)."""

    department = models.ForeignKey(
        Department, on_delete=models.CASCADE, related_name="service_areas", verbose_name=_("department")
    )
    code = models.SlugField(_("code"), max_length=80, unique=True)
    unit_name_fa = models.CharField(_("unit (Persian)"), max_length=200)
    unit_name_en = models.CharField(_("unit (English)"), max_length=200, blank=True)
    district_code = models.CharField(
        _("district code"),
        max_length=50,
        blank=True,
        help_text=_("Follow this district of the active boundary set."),
    )
    boundary = models.MultiPolygonField(_("own boundary"), srid=GEO_SRID, null=True, blank=True)
    is_default = models.BooleanField(
        _("department's central unit"),
        default=False,
        help_text=_("Takes the department's reports that have no location or fall outside its areas."),
    )
    contact_name = models.CharField(_("contact name"), max_length=200, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=50, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    boundary_updated_at = models.DateTimeField(_("boundary updated at"), auto_now_add=True)
    # When a field that routing reads last changed (own polygon, district code, active, central unit,
    # department): `reroute` looks again at the department's open reports routed before it. Set by
    # `districts.services.service_area_save` (the admin saves through it) from old vs new values.
    changed_at = models.DateTimeField(_("routing changed at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("service area")
        verbose_name_plural = _("service areas")
        ordering = ["department", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_default=True) | ~Q(district_code="") | Q(boundary__isnull=False),
                name="service_area_has_an_area",
            ),
            models.UniqueConstraint(
                fields=["department"], condition=Q(is_default=True), name="one_default_service_area"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.unit_name_fa} ({self.code})"


class ServiceAreaPiece(models.Model):
    """ST_Subdivide pieces of a service area's own boundary, like DistrictPiece."""

    service_area = models.ForeignKey(ServiceArea, on_delete=models.CASCADE, related_name="pieces")
    geom = models.PolygonField(srid=GEO_SRID, spatial_index=True)
