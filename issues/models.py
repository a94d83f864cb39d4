"""Categories (services), reports and their append-only events."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.functions import RandomUUID
from django.contrib.postgres.indexes import GinIndex
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
    # Small jobs a neighbour can do (salting an alley, clearing a drain grate): citizens may pledge
    # to take care of an open report of this category, and it may close as resolved by citizens.
    citizen_doable = models.BooleanField(
        _("citizens may take care of it"),
        default=False,
        help_text=_("Citizens may pledge to fix an open report of this category themselves."),
    )

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
# The open statuses in a fixed order: the public lists filter `status IN (...)` with exactly this list,
# the predicate of the partial index `report_public_open`, so PostgreSQL sees at once that it applies.
OPEN_STATUS_LIST: tuple[str, ...] = tuple(sorted(str(s) for s in OPEN_STATUSES))

# The main line of a report's life, in order. The side exits (transferred, not responsible, duplicate,
# reopened, resolved by citizens) leave it; the tracking page shows these steps, and the demo's
# sample reports walk along them.
STATUS_PATH: tuple[ReportStatus, ...] = (
    ReportStatus.RECEIVED,
    ReportStatus.FORWARDED,
    ReportStatus.ACKNOWLEDGED,
    ReportStatus.IN_PROGRESS,
    ReportStatus.DONE,
    ReportStatus.VERIFIED,
    ReportStatus.CLOSED,
)


class Channel(models.TextChoices):
    WEB = "web", _("web")
    PHONE = "phone", _("137 phone call")
    API = "api", _("API")
    OPEN311 = "open311", _("Open311")
    IMPORT = "import", _("import")


class Report(models.Model):
    tracking_code = models.CharField(_("tracking code"), max_length=16, unique=True)
    # One city per installation for now: an index on it would be written by every report and read by
    # nothing.
    city = models.CharField(_("city"), max_length=40, default="qazvin")
    # The three foreign keys a report is filtered by have no index of their own: each leads a
    # composite index (report_category_recent, report_district_inbox, report_unit_inbox) that serves
    # the same lookups, and every report written would pay for the extra ones.
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="reports", verbose_name=_("category"), db_index=False
    )
    kind = models.CharField(_("message kind"), max_length=20, choices=MessageKind.choices)
    description = models.TextField(_("description"), blank=True)
    location = models.PointField(_("location"), srid=GEO_SRID, null=True, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    status = models.CharField(
        _("status"), max_length=24, choices=ReportStatus.choices, default=ReportStatus.RECEIVED
    )  # looked up through the (status, category) index below
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.WEB)
    # Routing result, kept so the report's history survives boundary changes.
    district = models.ForeignKey(
        District,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reports",
        verbose_name=_("district"),
        db_index=False,
    )
    service_area = models.ForeignKey(
        ServiceArea,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reports",
        verbose_name=_("service area"),
        db_index=False,
    )
    routing_rule = models.CharField(_("routing rule"), max_length=10, choices=RoutingRule.choices)
    routing_distance_m = models.FloatField(_("distance to the district (m)"), default=0)
    routed_at = models.DateTimeField(_("routed at"))
    # Private: only 137 staff see these; no public response ever carries them.
    reporter_name = models.CharField(_("reporter name"), max_length=200, blank=True)
    reporter_phone = models.CharField(_("reporter phone"), max_length=40, blank=True)
    reporter_email = models.EmailField(_("reporter e-mail"), blank=True)
    consent_contact = models.BooleanField(_("reporter agrees to be contacted"), default=False)
    # The citizen's private link (add information, confirm a fix) works by this token; only its
    # SHA-256 is kept, the token itself is shown to the reporter only (in the answer to the submission,
    # or to a replay of it with the same idempotency key within the key's lifetime).
    private_token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    # A submission with an idempotency key: its random private token sealed (encrypted with a key
    # derived from SECRET_KEY, issues/services/submission.py), so that a replay within the key's
    # lifetime gets the same answer; emptied once that lifetime is over.
    private_token_sealed = models.CharField(max_length=80, null=True, blank=True, editable=False)
    # A retried submission (a second tap, a flaky mobile network, an API client's retry) carries the
    # same key and gets the same report back instead of a second one. Stored as `<channel>:<key>`: each
    # entrance has its own namespace, so no client can claim another entrance's key.
    idempotency_key = models.CharField(max_length=200, unique=True, null=True, blank=True, editable=False)
    # SHA-256 of the whole submission (category, point, text, answers, contact, photo count): a retry
    # with the same key must be the same submission, or it is refused rather than taken for it.
    idempotency_fingerprint = models.CharField(max_length=64, blank=True, default="", editable=False)
    # Open311 `tokens/{token}`: a public handle a client can keep before it knows the request id.
    open311_token = models.CharField(max_length=32, unique=True, null=True, blank=True, editable=False)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    support_count = models.PositiveIntegerField(_("supporters"), default=0)
    description_search = models.TextField(
        editable=False, blank=True, help_text="Normalised Persian text, for search."
    )
    # SLA deadlines in working time (issues/workflow/sla.py): `expected_at` is the resolve deadline
    # the citizen sees as "expected by".
    expected_at = models.DateTimeField(_("expected by"), null=True, blank=True)
    acknowledge_due_at = models.DateTimeField(_("acknowledge by"), null=True, blank=True)
    # The workflow (issues/workflow/): every change of status goes through report_transition, which
    # bumps `version`, so two staff acting at once cannot both win.
    version = models.PositiveIntegerField(default=1, editable=False)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_reports",
        verbose_name=_("assigned to"),
    )
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="duplicates"
    )
    referred_to = models.CharField(_("referred to"), max_length=40, blank=True)
    # The reporter asked for no more messages about this report.
    messages_stopped = models.BooleanField(_("messages stopped"), default=False)
    # Made by the demo's generator (a few years of a city, for the heatmap and scorecards to show
    # something), never by a citizen: every page, feed and export that shows one says so.
    generated = models.BooleanField(_("generated (demo data)"), default=False, db_default=False)
    # Indexed with the id in `report_public_recent` below (the public lists' order and keyset).
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "category"]),
            # The public lists (API, Open311) read newest first and page by keyset on (created_at, id):
            # each filter has an index that yields its reports already in that order, so a page reads
            # about a page of rows whatever the archive's size (issues/api/README.md).
            models.Index(fields=["-created_at", "-id"], name="report_public_recent"),
            # `status=open`, the map's default: a partial index of the open reports only. The category
            # and district ride along (INCLUDE), so that "open potholes" or "open in R1" and their
            # capped counts are answered from the index alone.
            models.Index(
                fields=["-created_at", "-id"],
                name="report_public_open",
                include=["category", "district"],
                condition=models.Q(status__in=OPEN_STATUS_LIST),
            ),
            models.Index(fields=["status", "-created_at", "-id"], name="report_status_recent"),
            models.Index(fields=["category", "-created_at", "-id"], name="report_category_recent"),
            # `q`: words anywhere in the normalised description (LIKE '%word%'), by trigrams.
            GinIndex(
                fields=["description_search"], name="report_description_trgm", opclasses=["gin_trgm_ops"]
            ),
            # Staff inboxes: a district's or a unit's reports, newest first.
            models.Index(fields=["district", "-created_at", "-id"], name="report_district_inbox"),
            models.Index(fields=["service_area", "-created_at", "-id"], name="report_unit_inbox"),
            # The SLA job's candidates (issues/workflow/escalation.py): reports still waiting for the
            # unit to acknowledge them, by deadline. Partial: the acknowledged and the closed, nearly
            # every report, are not in it. The statuses are inbox.AWAITING_ACKNOWLEDGEMENT.
            models.Index(
                fields=["acknowledge_due_at"],
                name="report_awaiting_ack_due",
                condition=models.Q(status__in=["received", "forwarded", "transferred", "reopened"]),
            ),
            # The 137 call screen: a caller's earlier reports, by the phone they call from
            # (issues/workflow/callers.py). Partial: most reports carry no phone.
            models.Index(
                fields=["reporter_phone"],
                name="report_reporter_phone",
                condition=~models.Q(reporter_phone=""),
            ),
            # The sealed private tokens still kept (a day's worth at most), for the job that empties
            # them when the replay window closes.
            models.Index(
                fields=["created_at"],
                name="report_token_sealed",
                condition=models.Q(private_token_sealed__isnull=False),
            ),
            # The demo's generated reports, and only them (replacing the set, the exports' check).
            models.Index(fields=["id"], name="report_generated", condition=models.Q(generated=True)),
        ]

    def __str__(self) -> str:
        return self.tracking_code

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ReportEvent(models.Model):
    """Append-only history of a report: every change of state or routing is one row."""

    # One writer per kind, in issues/events.py.
    class Kind(models.TextChoices):
        CREATED = "created", _("created")
        STATUS = "status", _("status changed")
        REROUTED = "rerouted", _("re-routed")
        NOTE = "note", _("note")
        SUPPORT = "support", _("me too")
        CITIZEN_INFO = "citizen_info", _("information from the reporter")
        CITIZEN_FEEDBACK = "citizen_feedback", _("the reporter's answer: fixed or not")
        CORRECTED = "corrected", _("reporter's details corrected")
        CLIENT_DETAILS = "client_details", _("client details")
        ASSIGNED = "assigned", _("assigned")
        ESCALATED = "escalated", _("escalated")
        VERIFICATION = "verification", _("137 check of the work")
        RATED = "rated", _("rated by the reporter")
        MESSAGES_STOPPED = "messages_stopped", _("messages stopped")

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
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
        indexes = [
            # Open311's updates feed (issues/open311/selectors.py, request_update_page): the public
            # changes oldest first by (at, id), a page by key reading about a page of events.
            models.Index(
                fields=["at", "id"],
                condition=models.Q(public=True) & ~models.Q(kind="created"),
                name="event_public_feed",
            ),
        ]


class ReportPhoto(models.Model):
    """A photo as stored: re-encoded, oriented, resized and stripped of all metadata."""

    class Kind(models.TextChoices):
        REPORT = "report", _("from the reporter")
        WORK = "work", _("after the work")

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="photos")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.REPORT)
    image = models.ImageField(upload_to="reports/%Y/%m/", width_field="width", height_field="height")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    public = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class ReportSupport(models.Model):
    """A citizen's "me too" on an open report: one more supporter instead of a duplicate report."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="supports")
    # A salted hash of the client (IP and user agent), so one phone counts once, without storing who.
    fingerprint = models.CharField(max_length=64)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "fingerprint"], name="one_support_per_client")
        ]


class CategoryAttribute(models.Model):
    """An extra question of a category (Open311's service definition attribute)."""

    class Datatype(models.TextChoices):
        STRING = "string", "string"
        NUMBER = "number", "number"
        DATETIME = "datetime", "datetime"
        TEXT = "text", "text"
        SINGLEVALUELIST = "singlevaluelist", "singlevaluelist"
        MULTIVALUELIST = "multivaluelist", "multivaluelist"

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="attributes")
    code = models.SlugField(_("code"), max_length=60)
    datatype = models.CharField(
        _("datatype"), max_length=20, choices=Datatype.choices, default=Datatype.STRING
    )
    required = models.BooleanField(_("required"), default=False)
    description_fa = models.CharField(_("Persian question"), max_length=300)
    description_en = models.CharField(_("English question"), max_length=300, blank=True)
    # [{"key": "deep", "name_fa": "...", "name_en": "..."}] for the list datatypes.
    values = models.JSONField(_("values"), default=list, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=1)

    class Meta:
        ordering = ["category", "order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["category", "code"], name="attribute_code_unique_in_category")
        ]

    def __str__(self) -> str:
        return f"{self.category.code}.{self.code}"


class ApiKey(models.Model):
    """A key for Open311 and API writes; only its SHA-256 is stored, the key is shown once."""

    name = models.CharField(_("name"), max_length=200)
    prefix = models.CharField(_("prefix"), max_length=8, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class OutboxMessage(models.Model):
    """A message to a citizen, written in the same transaction as the change it tells about and sent
    later by the worker, with retries: a report is never lost because the SMS gateway was down, and
    no message goes out for a report whose transaction rolled back.

    Sending takes a lease (issues/outbox.py): the row is marked `sending` until `lease_until`, the
    gateway is called outside any transaction, and the outcome is recorded. A sender that dies
    mid-send leaves the lease to expire, and the periodic requeue (issues/tasks.py) sends it again."""

    class Channel(models.TextChoices):
        SMS = "sms", "SMS"
        EMAIL = "email", _("e-mail")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="outbox", null=True, blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    recipient = models.CharField(max_length=254)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The current (or last) send: when it began, and until when no other sender may take the message.
    sending_since = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Sent to a gateway that accepts one (the HTTP SMS gateway's `Idempotency-Key` header): the same on
    # every attempt, so a retry after a lost answer is not sent twice. Each row draws its own, existing
    # rows included (the database's default).
    idempotency_key = models.UUIDField(default=uuid.uuid4, db_default=RandomUUID(), editable=False)


class RateCounter(models.Model):
    """Write-limit counters: one row per client (address, or API key) and time window. In the
    database, so every app process and server shares them; one UPSERT per counted request."""

    key = models.CharField(max_length=200)
    window_start = models.DateTimeField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="rate_counter_one_row_per_window")
        ]
        indexes = [models.Index(fields=["window_start"])]


class Holiday(models.Model):
    """A public holiday: a day without working time, on which SLA clocks stop (issues/workflow/sla.py).
    Fridays are always off and need no row. Most of Iran's public holidays follow the lunar Hijri
    calendar and move every year, so no rule computes them: staff enter each year's from the official
    calendar, and correct a date when the moon sighting moves it (the demo loads
    fixtures/holidays_1405.json)."""

    date = models.DateField(_("date"), unique=True, help_text=_("The Gregorian date of the holiday."))
    name_fa = models.CharField(_("Persian name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("public holiday")
        verbose_name_plural = _("public holidays")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date.isoformat()} {self.name_fa}"


# The workflow's own tables (roles, escalations, checks, ratings), models of this app.
# The gazetteer (named places for the call screen's place search), models of this app too.
from issues.places.models import Place, PlaceKind  # noqa: E402
from issues.workflow.models import (  # noqa: E402
    Escalation,
    ReportAccessToken,
    Role,
    SatisfactionRating,
    StaffProfile,
    VerificationCheck,
)

__all__ = [
    "ApiKey",
    "Category",
    "CategoryAttribute",
    "Channel",
    "Escalation",
    "Holiday",
    "MessageKind",
    "OutboxMessage",
    "Place",
    "PlaceKind",
    "RateCounter",
    "Report",
    "ReportAccessToken",
    "ReportEvent",
    "ReportPhoto",
    "ReportStatus",
    "ReportSupport",
    "Role",
    "SatisfactionRating",
    "StaffProfile",
    "VerificationCheck",
]
