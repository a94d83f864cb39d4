"""Named places of the city: what a caller says instead of coordinates ("behind the Jameh Mosque",
"Sabzeh Meydan", "the start of Sepah Street"). Imported by issues/models.py, so these are models of
the `issues` app.

A place is a point: a street is kept as one point on it (its best-known stretch), which is all the
call screen needs to move the map there; the operator then drops the pin on the exact spot.
"""

from __future__ import annotations

from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

from geo.srid import GEO_SRID


class PlaceKind(models.TextChoices):
    NEIGHBOURHOOD = "neighbourhood", _("neighbourhood")
    LANDMARK = "landmark", _("landmark")
    STREET = "street", _("street")
    OTHER = "other", _("other place")


class Place(models.Model):
    name_fa = models.CharField(_("Persian name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=PlaceKind.choices, default=PlaceKind.OTHER)
    # geo.text.normalize_persian of the Persian and the English name, one per line: the spelling
    # variants (ي/ی, ك/ک, آ/ا, ZWNJ, diacritics, Persian digits) compare equal. Written by
    # issues.places.services, never typed.
    name_search = models.TextField(editable=False, blank=True)
    location = models.PointField(_("location"), srid=GEO_SRID)
    # Where the name and the point come from: a file, a survey, a public source (cite it).
    source = models.CharField(_("source"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("place")
        verbose_name_plural = _("places")
        ordering = ["name_fa", "id"]

    def __str__(self) -> str:
        return f"{self.name_fa} / {self.name_en}" if self.name_en else self.name_fa
