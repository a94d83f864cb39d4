"""`manage.py demo_load [--reset]`: load the Qazvin demo (boundaries, departments, categories, a
member of staff for each role, named places, sample reports in every state, an admin login) from
fixtures/.

Idempotent: every part is looked up before it is written, so a second run writes nothing and takes a
second or two. The boundaries are recognised by the names of the demo's boundary sets, departments,
service areas and categories by their codes, staff by their usernames, places by name and source,
sample reports by the `demo_key` of the internal note each one carries. `--reset` first deletes all
of that (and every report in the demo's categories or districts), then loads it afresh.

The sample reports reach their states the way real ones do: each step is a call of the workflow's
`report_transition` by the demo member of staff whose job it is (the unit's staff for its own unit,
the district manager in their region, the 137 supervisor for the rest and for the checks), and is
only then backdated, so the demo has a history (SLA clocks, timelines) that the workflow wrote.

The regions and sub-districts are ILLUSTRATIVE: the official polygons of Qazvin's municipal regions
are not available, so the demo draws its own (fixtures/make_illustrative_districts.py). A municipality
loads its official boundaries with `manage.py import_districts`, like this command does.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.gis.geos import GEOSGeometry, Point
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import ProtectedError, Q
from django.utils import timezone

from districts.models import BoundarySet, Department, District, DistrictLevel, ServiceArea
from districts.services import department_create, service_area_create
from geo.srid import GEO_SRID
from issues import events
from issues.models import (
    Category,
    Channel,
    Holiday,
    Place,
    Report,
    ReportEvent,
    ReportPhoto,
    ReportStatus,
    Role,
)
from issues.oversight.scorecards import scorecard_rollup_keep
from issues.places.services import place_create
from issues.services.demo_generate import demo_generated_delete
from issues.services.intake import report_create
from issues.workflow import transitions as table
from issues.workflow.scope import report_in_scope, staff_scope
from issues.workflow.selectors import (
    report_acknowledge_due_at,
    report_expected_at,
    working_calendar_clear,
)
from issues.workflow.services import report_transition
from issues.workflow.staff import staff_user_create

FIXTURES = Path(settings.BASE_DIR) / "fixtures"
DEMO_ACTOR = "demo_load"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "open137-demo"  # noqa: S105 (the demo's published login, printed by demo_logins)
# The demo's published Open311 key, so a client can be tried at once (printed by demo_logins).
DEMO_API_KEY = "open137-demo-open311-key"
# The password of every demo member of staff below, published like the admin's.
STAFF_PASSWORD = "open137-staff"  # noqa: S105 (the demo's published login, printed by demo_logins)


@dataclass(frozen=True)
class DemoStaff:
    username: str
    role: str
    first_name: str
    last_name: str
    district_codes: tuple[str, ...] = ()
    service_area_codes: tuple[str, ...] = ()


# One member of staff per role. The district manager runs region R1 of the illustrative regions, and
# the unit staff work for that region's roads unit, so both find reports of their own in the demo.
DEMO_STAFF: tuple[DemoStaff, ...] = (
    DemoStaff("operator", Role.OPERATOR, "مریم", "کاظمی"),
    DemoStaff("supervisor", Role.SUPERVISOR, "رضا", "احمدی"),
    DemoStaff("manager_r1", Role.DISTRICT_MANAGER, "حسین", "رحیمی", district_codes=("R1",)),
    DemoStaff("unit_roads_r1", Role.UNIT_STAFF, "سعید", "نوری", service_area_codes=("roads-r1",)),
    DemoStaff("council", Role.COUNCIL, "زهرا", "موسوی"),
)

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

# The workflow actions that take a sample report from where intake left it (forwarded to its unit,
# or received in the triage queue) to the status its fixture asks for. A problem goes along the main
# line or leaves it by a side exit; the other kinds of message are acknowledged and answered.
S = ReportStatus
PROBLEM_STEPS: dict[str, tuple[str, ...]] = {
    S.RECEIVED: (),
    S.FORWARDED: (),
    S.ACKNOWLEDGED: ("acknowledge",),
    S.IN_PROGRESS: ("acknowledge", "start"),
    S.DONE: ("acknowledge", "start", "done"),
    S.VERIFIED: ("acknowledge", "start", "done", "verify"),
    S.CLOSED: ("acknowledge", "start", "done", "verify", "close"),
    S.REOPENED: ("acknowledge", "start", "done", "reopen"),
    S.TRANSFERRED: ("transfer",),
    S.NOT_RESPONSIBLE: ("refer",),
    S.DUPLICATE: ("duplicate",),
    S.RESOLVED_BY_CITIZENS: ("resolve_by_citizens",),
}
MESSAGE_STEPS: dict[str, tuple[str, ...]] = {
    S.RECEIVED: (),
    S.FORWARDED: (),
    S.ACKNOWLEDGED: ("acknowledge",),
    S.CLOSED: ("acknowledge", "answer"),
}
# What each step says on the report's timeline (a fixture may give its own under "notes").
ACTION_NOTES = {
    "acknowledge": "واحد مسئول دریافت گزارش را تأیید کرد.",
    "start": "اکیپ عملیاتی به محل اعزام شد.",
    "done": "کار انجام شد و گزارش کار با عکس پس از کار ثبت شد.",
    "verify": "مرکز ۱۳۷ انجام کار را بررسی و تأیید کرد.",
    "close": "پرونده بسته شد.",
    "reopen": "در تماس مرکز ۱۳۷، شهروند گفت مشکل برطرف نشده است؛ گزارش به واحد برگشت.",
    "transfer": "این محل در حوزه واحد دیگری است؛ گزارش به آن واحد منتقل شد.",
    "refer": "رسیدگی به این مورد با شهرداری نیست؛ به دستگاه مسئول ارجاع شد.",
    "duplicate": "این گزارش تکراری است و به گزارش اصلی پیوست شد.",
    "resolve_by_citizens": "اهالی محل خودشان مشکل را برطرف کردند.",
    "answer": "از پیام شما سپاسگزاریم؛ پاسخ واحد مربوط ثبت شد.",
}
# Who is asked first to take a step: the unit's own staff, then the district manager, then the 137
# supervisor; the first whose role the transition table allows and whose scope holds the report.
ACTOR_ORDER = ("unit_roads_r1", "manager_r1", "supervisor")

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


def photo_files_delete(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def demo_photo(name: str) -> SimpleUploadedFile:
    """A small JPEG standing for the unit's after-photo: a grey road with a fresh dark patch."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 240), (150, 150, 145))
    ImageDraw.Draw(image).ellipse((110, 90, 210, 150), fill=(55, 55, 60))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


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
        parser.add_argument(
            "--generate",
            action="store_true",
            help="Then replace the generated demo reports (`demo_generate --commit` with its defaults: "
            "a few years of Qazvin, labelled as generated).",
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
            staff = self.load_staff()  # before the reports: they take the reports' steps
            places = self.load_places()
            reports = self.load_reports()
            admin_created = self.load_admin()
            self.load_api_key()
        if options.get("generate"):
            generated = io.StringIO()
            call_command("demo_generate", "--commit", stdout=generated)
            if self.verbosity >= 1:
                self.stdout.write(generated.getvalue().rstrip())
        # The scorecards' aggregate over every report now in the database: built here, the demo's
        # first scorecard is not a request that waits for it.
        scorecard_rollup_keep()
        self.print_summary(
            boundaries,
            departments,
            areas,
            categories,
            reports,
            admin_created,
            holidays,
            new_staff=staff,
            new_places=places,
        )

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
        # The work photos' files go too, once the rows are gone for good.
        photo_files = list(
            ReportPhoto.objects.filter(report__in=reports).exclude(image="").values_list("image", flat=True)
        )
        try:
            # The generated reports first, in bulk (demo_generate): tens of thousands, not one by one.
            n_generated = demo_generated_delete()
            n_reports = reports.count() + n_generated
            reports.delete()
            transaction.on_commit(lambda: photo_files_delete(photo_files))
            get_user_model().objects.filter(username__in=[m.username for m in DEMO_STAFF]).delete()
            places = read_fixture("places_qazvin.json")["places"]
            n_places, _deleted = Place.objects.filter(
                name_fa__in=[p["name_fa"] for p in places], source__in=[p["source"] for p in places]
            ).delete()
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
            f"(with their units), {n_sets} demo boundary set(s), the demo staff and {n_places} place(s)."
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

    # --- staff and places ---------------------------------------------------------------------------

    def load_staff(self) -> int:
        """One member of staff per role, through the same service the admin uses; an existing user
        with the same name is left as it is."""
        existing = set(
            get_user_model()
            .objects.filter(username__in=[m.username for m in DEMO_STAFF])
            .values_list("username", flat=True)
        )
        created = 0
        for member in DEMO_STAFF:
            if member.username in existing:
                continue
            staff_user_create(
                username=member.username,
                password=STAFF_PASSWORD,
                role=member.role,
                district_codes=member.district_codes,
                service_area_codes=member.service_area_codes,
                first_name=member.first_name,
                last_name=member.last_name,
                email=f"{member.username}@example.org",
            )
            created += 1
        return created

    def load_places(self) -> int:
        """A few well-known places of Qazvin for the call screen's place search
        (fixtures/places_qazvin.json, each with the public source of its point)."""
        created = 0
        for spec in read_fixture("places_qazvin.json")["places"]:
            if Place.objects.filter(name_fa=spec["name_fa"], source=spec["source"]).exists():
                continue
            place_create(
                name_fa=spec["name_fa"],
                name_en=spec.get("name_en", ""),
                kind=spec["kind"],
                location=Point(spec["lon"], spec["lat"], srid=GEO_SRID),
                source=spec["source"],
            )
            created += 1
        return created

    # --- sample reports --------------------------------------------------------------------------

    def load_reports(self) -> int:
        loaded = self.loaded_reports()
        categories = {c.code: c for c in Category.objects.all()}
        staff: dict[str, Any] = {
            u.username: u
            for u in get_user_model().objects.filter(username__in=[m.username for m in DEMO_STAFF])
        }
        now = timezone.now()
        created = 0
        for spec in read_fixture("sample_reports.json")["reports"]:
            if spec["key"] in loaded:
                continue
            category = categories[spec["category"]]
            location = Point(spec["lon"], spec["lat"], srid=GEO_SRID) if "lat" in spec else None
            # The 137 operator files what comes in by telephone, as on the call screen.
            taker = staff.get("operator") if spec["channel"] == Channel.PHONE else None
            report = report_create(
                category=category,
                location=location,
                description=spec["description"],
                channel=spec["channel"],
                address=spec.get("address", ""),
                reporter_name=spec.get("reporter_name", ""),
                reporter_phone=spec.get("reporter_phone", ""),
                reporter_email=spec.get("reporter_email", ""),
                actor=taker,
            )
            events.note_event(
                report=report,
                actor_label=DEMO_ACTOR,
                note="Sample report loaded by demo_load.",
                public=False,
                data={"demo_key": spec["key"]},
            )
            loaded[spec["key"]] = report.pk
            steps = self.report_steps(report=report, spec=spec)
            self.report_walk(report=report, spec=spec, steps=steps, staff=staff, loaded=loaded)
            self.report_backdate(report=report, spec=spec, now=now)
            created += 1
        return created

    def loaded_reports(self) -> dict[str, int]:
        """The sample reports already in the database: demo_key -> report id."""
        return {
            key: report_id
            for report_id, key in ReportEvent.objects.filter(
                actor_label=DEMO_ACTOR, data__has_key="demo_key"
            ).values_list("report_id", "data__demo_key")
        }

    def report_steps(self, *, report: Report, spec: dict[str, Any]) -> tuple[str, ...]:
        target = spec["status"]
        plan = PROBLEM_STEPS if report.kind in table.PROBLEM_KINDS else MESSAGE_STEPS
        if target not in plan:
            raise CommandError(
                f"Sample report {spec['key']}: a {report.kind} cannot be brought to “{target}” "
                f"(possible: {', '.join(plan)})."
            )
        start = ReportStatus.FORWARDED if report.service_area_id else ReportStatus.RECEIVED
        if target in (ReportStatus.RECEIVED, ReportStatus.FORWARDED) and target != start:
            raise CommandError(
                f"Sample report {spec['key']}: intake leaves it “{start}” (a report routed to a unit is "
                f"forwarded at once; only one in the triage queue stays received), not “{target}”."
            )
        if start == ReportStatus.RECEIVED and plan[target]:
            raise CommandError(f"Sample report {spec['key']}: in the triage queue, it has no unit to act.")
        return plan[target]

    def report_walk(
        self,
        *,
        report: Report,
        spec: dict[str, Any],
        steps: tuple[str, ...],
        staff: dict[str, AbstractBaseUser],
        loaded: dict[str, int],
    ) -> None:
        """Take the steps through the workflow service, each as the member of staff whose job it is."""
        notes = spec.get("notes", {})
        for action in steps:
            extra: dict[str, Any] = {}
            if action == "done":
                extra["photos"] = [demo_photo(f"{spec['key']}-after.jpg")]
            if action == "transfer":
                extra["service_area"] = ServiceArea.objects.get(code=spec["transfer_to"])
            if action == "refer":
                extra["referred_to"] = spec["referred_to"]
            if action == "duplicate":
                original = loaded.get(spec["duplicate_of"])
                if original is None:
                    raise CommandError(
                        f"Sample report {spec['key']} duplicates “{spec['duplicate_of']}”, which must come "
                        "before it in fixtures/sample_reports.json."
                    )
                extra["duplicate_of"] = Report.objects.get(pk=original)
            report.refresh_from_db()
            report_transition(
                report=report,
                action=action,
                actor=self.actor_for(report=report, action=action, staff=staff),
                note=notes.get(action, ACTION_NOTES[action]),
                **extra,
            )

    def actor_for(
        self, *, report: Report, action: str, staff: dict[str, AbstractBaseUser]
    ) -> AbstractBaseUser:
        roles = {role for t in table.BY_ACTION[action] if report.kind in t.kinds for role in t.roles}
        for username in ACTOR_ORDER:
            user = staff.get(username)
            scope = staff_scope(user=user) if user is not None else None
            if scope is not None and scope.role in roles and report_in_scope(scope=scope, report=report):
                return user  # type: ignore[return-value]
        raise CommandError(f"No demo member of staff may “{action}” report {report.tracking_code}.")

    def report_backdate(self, *, report: Report, spec: dict[str, Any], now: datetime) -> None:
        """Move the report's history back in time as the fixture asks (`age_hours`): its creation,
        then each step spread evenly up to ten minutes ago, the report's own timestamps and its SLA
        deadlines with them. Only times change: who did what, in which order, is the workflow's."""
        created_at = now - timedelta(hours=spec.get("age_hours", 0))
        own = list(ReportEvent.objects.filter(report=report).order_by("at", "id"))
        # The events of the same steps on other reports (a duplicate's note on its original).
        others = list(ReportEvent.objects.filter(data__merged=report.tracking_code).exclude(report=report))
        intake = [e for e in own if e.kind == ReportEvent.Kind.CREATED or e.actor_label == DEMO_ACTOR]
        later = [e for e in own if e not in intake]
        span = now - timedelta(minutes=10) - created_at
        times: dict[str, datetime] = {}
        at = created_at
        for event in intake:
            event.at = created_at
        for i, event in enumerate(later, start=1):
            at = created_at + span * i / (len(later) + 1)
            event.at = at
            if event.kind == ReportEvent.Kind.STATUS:
                times.setdefault(event.to_status, at)
                times[f"last:{event.to_status}"] = at
        for event in others:
            event.at = times.get("last:duplicate", at)
        ReportEvent.objects.bulk_update(own + others, ["at"])
        report.refresh_from_db()
        fields = {
            "created_at": created_at,
            "updated_at": at,
            "routed_at": times.get(f"last:{ReportStatus.TRANSFERRED}", created_at),
            "expected_at": report_expected_at(category=report.category, start=created_at),
            "acknowledge_due_at": report_acknowledge_due_at(category=report.category, start=created_at),
        }
        if report.acknowledged_at:
            fields["acknowledged_at"] = times.get(ReportStatus.ACKNOWLEDGED, at)
        if report.done_at:
            fields["done_at"] = times.get(f"last:{ReportStatus.DONE}", at)
        if report.closed_at:
            fields["closed_at"] = at
        Report.objects.filter(pk=report.pk).update(**fields)
        ReportPhoto.objects.filter(report=report).update(
            created_at=times.get(f"last:{ReportStatus.DONE}", at)
        )

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
        *,
        new_staff: int = 0,
        new_places: int = 0,
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
            or new_staff
            or new_places
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
        statuses = Counter(demo_reports.values_list("status", flat=True))
        write("               " + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())))
        generated = Report.objects.filter(generated=True).count()
        write(
            f"  generated    {generated} generated demo reports, labelled as such "
            "(`demo_load --generate` or `demo_generate --commit` writes them; `make demo` does)"
        )
        write(f"  places       {Place.objects.count()} ({new_places} new)")
        write(
            f"  staff        {', '.join(m.username for m in DEMO_STAFF)} / {STAFF_PASSWORD} "
            f"({new_staff} new; `manage.py demo_logins` lists their roles)"
        )
        write(
            f"  login        {ADMIN_USERNAME} / {ADMIN_PASSWORD} "
            f"({'created' if admin_created else 'already there, password unchanged'})"
        )
        write(self.style.WARNING(ILLUSTRATIVE_EN))
        write(self.style.WARNING(ILLUSTRATIVE_FA))
