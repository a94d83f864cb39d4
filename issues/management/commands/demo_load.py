"""`manage.py demo_load [--reset]`: load the Qazvin demo (boundaries, departments, categories, sample
reports, an admin login) from fixtures/.

Idempotent: every part is looked up before it is written, so a second run writes nothing and takes a
second or two. The boundaries are recognised by the names of the demo's boundary sets, departments,
service areas and categories by their codes, sample reports by the `demo_key` of the internal note
each one carries. `--reset` first deletes all of that (and every report in the demo's categories or
districts), then loads it afresh.

The regions and sub-districts are ILLUSTRATIVE: the official polygons of Qazvin's municipal regions
are not available, so the demo draws its own (fixtures/make_illustrative_districts.py). A municipality
loads its official boundaries with `manage.py import_districts`, like this command does.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import GEOSGeometry, Point
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import ProtectedError, Q
from django.utils import timezone

from districts.models import BoundarySet, Department, District, DistrictLevel, ServiceArea
from districts.services import department_create, service_area_create
from geo.srid import GEO_SRID
from issues import events
from issues.models import STATUS_PATH, Category, Holiday, Report, ReportEvent, ReportStatus
from issues.services.intake import report_create
from issues.workflow.selectors import working_calendar_clear

FIXTURES = Path(settings.BASE_DIR) / "fixtures"
DEMO_ACTOR = "demo_load"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "open137-demo"  # noqa: S105 (the demo's published login, printed by demo_logins)
# The demo's published Open311 key, so a client can be tried at once (printed by demo_logins).
DEMO_API_KEY = "open137-demo-open311-key"

# The three imports, in order; each makes a new boundary set (with the levels already loaded copied
# into it) and activates it, so the last one holds all three levels. The set names mark the demo.
BOUNDARY_IMPORTS = [
    ("jurisdiction", "qazvin_county.geojson", "Qazvin demo 1/3: jurisdiction (Qazvin County, OSM)"),
    ("region", "qazvin_regions_illustrative.geojson", "Qazvin demo 2/3: + illustrative regions"),
    (
        "sub_district",
        "qazvin_subdistricts_illustrative.geojson",
        "Qazvin demo 3/3: + illustrative sub-districts",
    ),
]
DEMO_SET_NAMES = [name for _level, _file, name in BOUNDARY_IMPORTS]

# A sample report's status is reached along the normal path (STATUS_PATH), one public event per step.
STATUS_NOTES = {
    ReportStatus.FORWARDED: "به واحد مسئول ارسال شد.",
    ReportStatus.ACKNOWLEDGED: "واحد مسئول دریافت گزارش را تأیید کرد.",
    ReportStatus.IN_PROGRESS: "اکیپ عملیاتی به محل اعزام شد.",
    ReportStatus.DONE: "کار انجام شد و گزارش کار ثبت شد.",
    ReportStatus.VERIFIED: "مرکز ۱۳۷ انجام کار را بررسی و تأیید کرد.",
    ReportStatus.CLOSED: "پرونده بسته شد.",
}

ILLUSTRATIVE_EN = (
    "Note: the regions and sub-districts are ILLUSTRATIVE (drawn for the demo), not the official "
    "boundaries of Qazvin's municipal regions; load official ones with `manage.py import_districts`."
)
ILLUSTRATIVE_FA = "توجه: مرز مناطق و نواحی نمایشی و فرضی است، نه مرز رسمی مناطق شهرداری قزوین."


def read_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def geojson_geometry(file_name: str, code: str) -> GEOSGeometry:
    for feature in read_fixture(file_name)["features"]:
        if feature["properties"].get("code") == code:
            return GEOSGeometry(json.dumps(feature["geometry"]), srid=GEO_SRID)
    raise CommandError(f"No feature with code “{code}” in fixtures/{file_name}.")


class Command(BaseCommand):
    help = (
        "Load the Qazvin demo: Qazvin County, illustrative regions and sub-districts, departments and "
        "their units, categories, sample reports and the admin login. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the demo data (and every report in its categories or districts) and load it again.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if getattr(settings, "PRODUCTION", False):
            raise CommandError(
                "demo_load is for demo installations: it creates a superuser with a published password. "
                "It refuses to run with OPEN137_PRODUCTION=1."
            )
        self.verbosity = int(options.get("verbosity", 1))
        with transaction.atomic():
            if options["reset"]:
                self.reset()
            boundaries = self.load_boundaries()
            departments, areas = self.load_departments()
            categories = self.load_categories()
            holidays = self.load_holidays()  # before the reports: their deadlines count working time
            reports = self.load_reports()
            admin_created = self.load_admin()
            self.load_api_key()
        self.print_summary(boundaries, departments, areas, categories, reports, admin_created, holidays)

    # --- reset -----------------------------------------------------------------------------------

    def reset(self) -> None:
        sets = BoundarySet.objects.filter(name__in=DEMO_SET_NAMES)
        departments = Department.objects.filter(
            code__in=[d["code"] for d in read_fixture("departments.json")["departments"]]
        )
        categories = Category.objects.filter(
            code__in=[c["code"] for c in read_fixture("categories.json")["categories"]]
        )
        reports = Report.objects.filter(
            Q(category__in=categories)
            | Q(district__boundary_set__in=sets)
            | Q(service_area__department__in=departments)
        )
        try:
            n_reports = reports.count()
            reports.delete()
            n_categories = categories.count()
            categories.delete()
            n_departments = departments.count()
            departments.delete()  # with their service areas
            # Children before parents: a district's parent is protected while it has children.
            for level in sorted(DistrictLevel.values, reverse=True):
                District.objects.filter(boundary_set__in=sets, level=level).delete()
            n_sets = sets.count()
            sets.delete()
        except ProtectedError as exc:
            raise CommandError(
                f"--reset cannot delete the demo data: other data still uses it ({exc})."
            ) from None
        self.stdout.write(
            f"Reset: deleted {n_reports} report(s), {n_categories} categories, {n_departments} departments "
            f"(with their units) and {n_sets} demo boundary set(s)."
        )

    # --- boundaries ------------------------------------------------------------------------------

    def load_boundaries(self) -> int:
        """Import the three levels through `import_districts`, skipping each one already loaded."""
        existing = set(BoundarySet.objects.filter(name__in=DEMO_SET_NAMES).values_list("name", flat=True))
        imported = 0
        for level, file_name, set_name in BOUNDARY_IMPORTS:
            if set_name in existing:
                continue
            arguments = [
                str(FIXTURES / file_name),
                "--code-field", "code",
                "--name-field", "name_fa",
                "--name-en-field", "name_en",
                "--level", level,
                "--commit",
                "--set-name", set_name,
            ]  # fmt: skip
            if level == "sub_district":
                arguments += ["--parent-field", "parent"]
            output = io.StringIO()
            call_command("import_districts", *arguments, stdout=output)
            if self.verbosity >= 2:
                self.stdout.write(output.getvalue())
            imported += 1
        return imported

    # --- departments and their units -------------------------------------------------------------

    def load_departments(self) -> tuple[int, int]:
        new_departments = new_areas = 0
        existing_areas = set(ServiceArea.objects.values_list("code", flat=True))
        for spec in read_fixture("departments.json")["departments"]:
            department = Department.objects.filter(code=spec["code"]).first()
            if department is None:
                department = department_create(
                    code=spec["code"], name_fa=spec["name_fa"], name_en=spec["name_en"]
                )
                new_departments += 1
            for area in spec["service_areas"]:
                if area["code"] in existing_areas:
                    continue
                boundary = None
                if "boundary" in area:
                    boundary = geojson_geometry(area["boundary"]["file"], area["boundary"]["code"])
                service_area_create(
                    department=department,
                    code=area["code"],
                    unit_name_fa=area["unit_name_fa"],
                    unit_name_en=area.get("unit_name_en", ""),
                    district_code=area.get("district_code", ""),
                    boundary=boundary,
                    is_default=area.get("is_default", False),
                    contact_phone=area.get("contact_phone", ""),
                )
                new_areas += 1
        return new_departments, new_areas

    # --- categories ------------------------------------------------------------------------------

    def load_categories(self) -> int:
        departments = dict(Department.objects.values_list("code", "pk"))
        created_count = 0
        for spec in read_fixture("categories.json")["categories"]:
            fields = {k: v for k, v in spec.items() if k not in ("code", "department")}
            _category, created = Category.objects.update_or_create(
                code=spec["code"], defaults={**fields, "department_id": departments[spec["department"]]}
            )
            created_count += created
        return created_count

    # --- public holidays -------------------------------------------------------------------------------

    def load_holidays(self) -> int:
        """The year's public holidays (fixtures/holidays_1405.json), matched by date: a day already in
        the table with the same names is left alone, so a second run writes nothing."""
        existing = {
            day: (fa, en) for day, fa, en in Holiday.objects.values_list("date", "name_fa", "name_en")
        }
        written = 0
        for spec in read_fixture("holidays_1405.json")["holidays"]:
            day = date.fromisoformat(spec["date"])
            if existing.get(day) != (spec["name_fa"], spec["name_en"]):
                Holiday.objects.update_or_create(
                    date=day, defaults={"name_fa": spec["name_fa"], "name_en": spec["name_en"]}
                )
                written += 1
        if written:
            working_calendar_clear()
        return written

    # --- sample reports --------------------------------------------------------------------------

    def load_reports(self) -> int:
        loaded = set(
            ReportEvent.objects.filter(actor_label=DEMO_ACTOR, data__has_key="demo_key").values_list(
                "data__demo_key", flat=True
            )
        )
        categories = {c.code: c for c in Category.objects.all()}
        now = timezone.now()
        created = 0
        for spec in read_fixture("sample_reports.json")["reports"]:
            if spec["key"] in loaded:
                continue
            location = Point(spec["lon"], spec["lat"], srid=GEO_SRID) if "lat" in spec else None
            report = report_create(
                category=categories[spec["category"]],
                location=location,
                description=spec["description"],
                channel=spec["channel"],
                address=spec.get("address", ""),
                reporter_name=spec.get("reporter_name", ""),
                reporter_email=spec.get("reporter_email", ""),
            )
            self.report_history(report=report, spec=spec, now=now)
            created += 1
        return created

    def report_history(self, *, report: Report, spec: dict[str, Any], now: Any) -> None:
        """Backdate the sample report and walk it to its status, so the demo has a history (SLA
        clocks, timelines). Every step is an event; the first, internal one marks it as demo data."""
        created_at = now - timedelta(hours=spec.get("age_hours", 0))
        ReportEvent.objects.filter(report=report).update(at=created_at)
        note = events.note_event(
            report=report,
            actor_label=DEMO_ACTOR,
            note="Sample report loaded by demo_load.",
            public=False,
            data={"demo_key": spec["key"]},
        )
        ReportEvent.objects.filter(pk=note.pk).update(at=created_at)
        target = STATUS_PATH.index(ReportStatus(spec.get("status", ReportStatus.RECEIVED)))
        steps = STATUS_PATH[1 : target + 1]
        if report.service_area_id is None:
            steps = ()  # in the triage queue: nobody to forward it to yet
        span = now - timedelta(minutes=10) - created_at
        previous = ReportStatus.RECEIVED
        at = created_at
        for i, status in enumerate(steps, start=1):
            at = created_at + span * i / (len(steps) + 1)
            event = events.status_changed_event(
                report=report,
                action=status,
                actor_label=DEMO_ACTOR,
                from_status=previous,
                to_status=status,
                note=STATUS_NOTES[status],
            )
            ReportEvent.objects.filter(pk=event.pk).update(at=at)
            previous = status
        Report.objects.filter(pk=report.pk).update(created_at=created_at, updated_at=at, status=previous)

    # --- the admin login -------------------------------------------------------------------------

    def load_admin(self) -> bool:
        users = get_user_model()
        if users.objects.filter(username=ADMIN_USERNAME).exists():
            return False
        users.objects.create_superuser(ADMIN_USERNAME, "admin@example.org", ADMIN_PASSWORD)
        return True

    def load_api_key(self) -> None:
        from issues.open311.services import api_key_authenticate, api_key_create

        if api_key_authenticate(key=DEMO_API_KEY) is None:
            api_key_create(name="Demo Open311 client", key=DEMO_API_KEY)

    # --- output ----------------------------------------------------------------------------------

    def print_summary(
        self,
        new_sets: int,
        new_departments: int,
        new_areas: int,
        new_categories: int,
        new_reports: int,
        admin_created: bool,
        new_holidays: int = 0,
    ) -> None:
        active = BoundarySet.objects.filter(active=True).first()
        levels: Counter[int] = (
            Counter(active.districts.values_list("level", flat=True)) if active else Counter()
        )
        demo_reports = Report.objects.filter(
            pk__in=ReportEvent.objects.filter(actor_label=DEMO_ACTOR, data__has_key="demo_key").values(
                "report_id"
            )
        )
        rules = Counter(demo_reports.values_list("routing_rule", flat=True))
        nothing_new = not (
            new_sets
            or new_departments
            or new_areas
            or new_categories
            or new_reports
            or admin_created
            or new_holidays
        )
        write = self.stdout.write
        write(
            self.style.SUCCESS(
                "Qazvin demo: already loaded, nothing changed." if nothing_new else "Qazvin demo loaded."
            )
        )
        write(
            f"  boundaries   active set “{active.name if active else '-'}”: "
            f"{levels[DistrictLevel.JURISDICTION]} jurisdiction, {levels[DistrictLevel.REGION]} regions, "
            f"{levels[DistrictLevel.SUB_DISTRICT]} sub-districts ({new_sets} import(s) now)"
        )
        write(
            f"  departments  {Department.objects.count()} ({new_departments} new), "
            f"units {ServiceArea.objects.count()} ({new_areas} new)"
        )
        write(f"  categories   {Category.objects.count()} ({new_categories} new)")
        write(
            f"  holidays     {Holiday.objects.count()} ({new_holidays} written), Jalali 1405 and Nowruz 1406"
        )
        write(
            f"  reports      {demo_reports.count()} sample reports ({new_reports} new): "
            + ", ".join(f"{n} {rule}" for rule, n in sorted(rules.items()))
        )
        write(
            f"  login        {ADMIN_USERNAME} / {ADMIN_PASSWORD} "
            f"({'created' if admin_created else 'already there, password unchanged'})"
        )
        write(self.style.WARNING(ILLUSTRATIVE_EN))
        write(self.style.WARNING(ILLUSTRATIVE_FA))
