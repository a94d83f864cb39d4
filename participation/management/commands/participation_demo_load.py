"""`manage.py participation_demo_load`: the demo's participation points in Qazvin
(participation/fixtures/points_qazvin.json), after `demo_load` (their districts come from its
boundaries). Idempotent: a point is matched by its English name, so a second run writes nothing.
Two of them start as reported empty by a citizen, so the staff list has something on top."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.management.base import BaseCommand, CommandError

from geo.srid import GEO_SRID
from participation.models import ParticipationPoint
from participation.services import point_create, point_report_empty

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "points_qazvin.json"
DEMO_ACTOR = "demo_load"
# Points the demo shows as reported empty (one demo "citizen" each).
DEMO_EMPTY = ("Salt bin, Nowruzian Boulevard", "Sand bin, Peighambarieh")


class Command(BaseCommand):
    help = "Load the demo's participation points (salt and sand bins) in Qazvin."

    def handle(self, *args: Any, **options: Any) -> None:
        if getattr(settings, "PRODUCTION", False):
            raise CommandError("participation_demo_load is for demo installations.")
        specs = json.loads(FIXTURE.read_text(encoding="utf-8"))["points"]
        existing = set(ParticipationPoint.objects.values_list("name_en", flat=True))
        created = 0
        for spec in specs:
            if spec["name_en"] in existing:
                continue
            point = point_create(
                kind=spec["kind"],
                name_fa=spec["name_fa"],
                name_en=spec["name_en"],
                notes=spec.get("notes", ""),
                location=Point(spec["lon"], spec["lat"], srid=GEO_SRID),
                actor_label=DEMO_ACTOR,
            )
            if spec["name_en"] in DEMO_EMPTY:
                fingerprint = hashlib.sha256(f"demo:{spec['name_en']}".encode()).hexdigest()
                point_report_empty(point_id=point.pk, fingerprint=fingerprint)
            created += 1
        if int(options.get("verbosity", 1)):
            self.stdout.write(f"Participation points: {created} new, {len(specs)} in the demo.")
