"""A citizen's or a client's submission: validated, idempotent, routed, photos stored, the
reporter told. Every entrance (web form, report API, Open311, the 137 call screen) files through
`report_submit`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from districts.selectors import Routing, route_point
from geo.srid import GEO_SRID
from issues.formats import token_hash
from issues.models import Category, Channel, Report
from issues.services import tracking
from issues.services.intake import report_create
from issues.validation import CleanSubmission, submission_clean


@dataclass(frozen=True)
class ReportSubmission:
    report: Report
    # The reporter's private token, in clear only in the answer to the request that created the report
    # and to a replay of that request (same idempotency key, same submission, within the key's lifetime).
    private_token: str | None
    created: bool
    # How the new report was routed (None on a replay: read it from the stored report).
    routing: Routing | None = None


MAX_PHOTOS = 3


# A submission with an idempotency key gets a random private token like any other; a replay of it
# within the key's lifetime (OPEN137_IDEMPOTENCY_REPLAY_SECONDS) gets the same token back, as payment
# APIs keep a key's first answer. So the report keeps the token for that long, sealed: XORed with a
# pad that is an HMAC of SECRET_KEY over a random 16-byte nonce (a one-time pad from a PRF: nobody
# who reads the database without SECRET_KEY learns anything of the token), and stores the nonce and
# the masked token. The token's hash, already stored, checks what unsealing gives: a wrong secret or
# an altered row gives no token. The threat: a leaked backup, a read-only SQL role or a log of keys
# must not open reports; with SECRET_KEY as well, only the last day's tokens could be read (they are
# emptied after it), where a token derived from the key opened every report ever sent with one.
_SEAL_SALT = "open137.issues.private-token-seal"
_SEAL_VERSION = "v1:"
_SEAL_NONCE_BYTES = 16


def _seal_pad(nonce: bytes, *, secret: str | bytes) -> bytes:
    return salted_hmac(_SEAL_SALT, nonce, secret=secret, algorithm="sha256").digest()


def private_token_seal(token: str) -> str:
    """The token, encrypted for the report row (see above)."""
    plain = token.encode("ascii")
    nonce = secrets.token_bytes(_SEAL_NONCE_BYTES)
    pad = _seal_pad(nonce, secret=settings.SECRET_KEY)
    if len(plain) > len(pad):
        raise ValueError("A private token is at most 32 bytes.")
    masked = bytes(a ^ b for a, b in zip(plain, pad, strict=False))
    return _SEAL_VERSION + base64.urlsafe_b64encode(nonce + masked).decode()


def private_token_unseal(sealed: str, *, token_hash_stored: str) -> str | None:
    """The token sealed by private_token_seal, if it is the one whose hash the report keeps; under
    SECRET_KEY or one of SECRET_KEY_FALLBACKS (a key being rotated)."""
    if not sealed.startswith(_SEAL_VERSION) or not token_hash_stored:
        return None
    try:
        data = base64.urlsafe_b64decode(sealed[len(_SEAL_VERSION) :])
    except (ValueError, binascii.Error):
        return None
    nonce, masked = data[:_SEAL_NONCE_BYTES], data[_SEAL_NONCE_BYTES:]
    for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
        pad = _seal_pad(nonce, secret=secret)
        plain = bytes(a ^ b for a, b in zip(masked, pad, strict=False))
        try:
            token = plain.decode("ascii")
        except UnicodeDecodeError:
            continue
        if hmac.compare_digest(token_hash(token), token_hash_stored):
            return token
    return None


def submission_tokens_forget() -> int:
    """Empty the sealed tokens whose replay window has closed (the hourly job); returns how many."""
    cutoff = timezone.now() - timedelta(seconds=settings.OPEN137_IDEMPOTENCY_REPLAY_SECONDS)
    return Report.objects.filter(private_token_sealed__isnull=False, created_at__lt=cutoff).update(
        private_token_sealed=None
    )


def idempotency_key_scoped(*, channel: str, key: str | None) -> str | None:
    """A client's idempotency key as stored: `<channel>:<key>`. Every entrance has its own namespace
    (the web form `web:`, the report API `api:`, Open311 `open311:<API key id>:`), and a client's key
    is always prefixed on our side, so a key sent to one entrance, whatever it looks like (an API
    client's `open311:1:x`), never meets another entrance's."""
    return f"{channel}:{key}" if key else None


def _submission_fingerprint(
    *,
    category: Category,
    location: Point | None,
    kind: str,
    clean: CleanSubmission,
    consent_contact: bool,
    photo_count: int,
) -> str:
    """SHA-256 of everything the citizen sent, normalised (the point to about 0.1 m): a retry with the
    same idempotency key must match it to be taken for the same submission."""
    where = None
    if location is not None:
        if location.srid and location.srid != GEO_SRID:
            location = cast(Point, location.transform(GEO_SRID, clone=True))
        where = [f"{location.x:.6f}", f"{location.y:.6f}"]
    data = {
        "category": category.pk,
        "location": where,
        "kind": kind or category.kind,
        "description": clean.description,
        "address": clean.address,
        "attributes": clean.attributes,
        "name": clean.reporter_name,
        "phone": clean.reporter_phone,
        "email": clean.reporter_email,
        "consent_contact": bool(consent_contact),
        "photos": photo_count,
    }
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def report_submit(
    *,
    category: Category,
    location: Point | None,
    description: str = "",
    kind: str = "",
    channel: str = Channel.WEB,
    address: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    reporter_email: str = "",
    consent_contact: bool = False,
    attributes: dict[str, Any] | None = None,
    photos: Sequence[UploadedFile] = (),
    idempotency_key: str | None = None,
    actor: User | None = None,
    routing: Routing | None = None,
) -> ReportSubmission:
    """A citizen's (or a client's) submission: validated (issues.validation, the same rules for the
    web form, the API and Open311), routed, photos stored, the reporter told by SMS or e-mail through
    the outbox. The same idempotency key with the same submission gives the same report back.

    `idempotency_key`: the client's key as it sent it; it is stored in the namespace of `channel`
    (idempotency_key_scoped), so each entrance's keys are its own.

    `routing`: the location already routed for the category's department (an entrance that routed it
    while checking the point), so it is not looked up twice."""
    from issues import notifications
    from issues import photos as photo_store

    errors: dict[str, list[ValidationError]] = {}
    try:
        clean = submission_clean(
            category=category,
            description=description,
            address=address,
            reporter_name=reporter_name,
            reporter_phone=reporter_phone,
            reporter_email=reporter_email,
            attributes=attributes,
        )
    except ValidationError as exc:
        errors.update(exc.error_dict)
    if location is None and category.location_required:
        errors["location"] = [ValidationError(_("This category needs a location on the map."))]
    if len(photos) > MAX_PHOTOS:
        errors["photos"] = [ValidationError(_("At most %(n)d photos.") % {"n": MAX_PHOTOS})]
    if errors:
        raise ValidationError(errors)
    idempotency_key = idempotency_key_scoped(channel=channel, key=idempotency_key)
    # Only a submission with an idempotency key can be a retry to compare with the first copy.
    fingerprint = (
        _submission_fingerprint(
            category=category,
            location=location,
            kind=kind,
            clean=clean,
            consent_contact=consent_contact,
            photo_count=len(photos),
        )
        if idempotency_key
        else ""
    )
    replay = _replay_if_known(idempotency_key, category=category, fingerprint=fingerprint, clean=clean)
    if replay is not None:
        return replay
    # Photos are decoded and cleaned before anything is written: a bad file refuses the whole report.
    processed = [photo_store.photo_process(upload=upload) for upload in photos]
    token = secrets.token_urlsafe(18)
    sealed = private_token_seal(token) if idempotency_key else None
    if location is None and category.location_required:
        raise ValidationError({"location": [_("This category needs a location on the map.")]})
    # Routing only reads: done before the transaction opens, so the transaction stays short.
    if routing is None:
        routing = route_point(point=location, department_id=category.department_id)
    # The report and its event are one statement (report_create); a transaction is opened only when
    # photos or messages are written with them, or inside a caller's transaction (a savepoint, so
    # that a clash of tracking codes undoes only this attempt).
    own_transaction = (
        bool(processed)
        or notifications.report_created_has_recipient(phone=clean.reporter_phone, email=clean.reporter_email)
        or connection.in_atomic_block
    )
    for attempt in range(1, tracking.TRACKING_ATTEMPTS + 1):
        try:
            with (
                photo_store.photo_files_undone_on_error(),
                transaction.atomic() if own_transaction else nullcontext(),
            ):
                report = report_create(
                    routing=routing,
                    retry_tracking_code=False,
                    category=category,
                    location=location,
                    description=clean.description,
                    kind=kind,
                    channel=channel,
                    address=clean.address,
                    reporter_name=clean.reporter_name,
                    reporter_phone=clean.reporter_phone,
                    reporter_email=clean.reporter_email,
                    actor=actor,
                    consent_contact=consent_contact,
                    attributes=clean.attributes,
                    private_token_hash=token_hash(token),
                    private_token_sealed=sealed,
                    idempotency_key=idempotency_key or None,
                    idempotency_fingerprint=fingerprint,
                    open311_token=secrets.token_hex(16),
                )
                for photo in processed:
                    photo_store.photo_save(report=report, photo=photo)
                notifications.report_created_notify(report=report, private_token=token)
            break
        except IntegrityError as exc:
            if tracking.is_tracking_code_clash(exc) and attempt < tracking.TRACKING_ATTEMPTS:
                continue  # the whole submission again, under a new code
            # Two copies of one submission raced; the other one won and is the report.
            replay = _replay_if_known(
                idempotency_key, category=category, fingerprint=fingerprint, clean=clean
            )
            if replay is not None:
                return replay
            raise
    return ReportSubmission(report=report, private_token=token, created=True, routing=routing)


def _replay_if_known(
    idempotency_key: str | None, *, category: Category, fingerprint: str, clean: CleanSubmission
) -> ReportSubmission | None:
    """The report an earlier copy of this submission created (same idempotency key), if any."""
    if not idempotency_key:
        return None
    existing = Report.objects.filter(idempotency_key=idempotency_key).first()
    if existing is None:
        return None
    return _idempotent_replay(existing, category=category, fingerprint=fingerprint, clean=clean)


def _idempotent_replay(
    report: Report,
    *,
    category: Category,
    fingerprint: str,
    clean: CleanSubmission,
) -> ReportSubmission:
    if report.idempotency_fingerprint:
        same = hmac.compare_digest(report.idempotency_fingerprint, fingerprint)
    else:
        # A report stored before fingerprints were kept: its category and text decide.
        same = report.category_id == category.pk and report.description == clean.description
    if not same:
        raise ValidationError(
            {"idempotency_key": [_("This idempotency key was already used for a different report.")]},
            code="idempotency_conflict",
        )
    # The first answer's private token, while the key lives (then the report alone: the link went to
    # the reporter with the first answer, and by SMS or e-mail if they left a contact).
    token = None
    window = timedelta(seconds=settings.OPEN137_IDEMPOTENCY_REPLAY_SECONDS)
    if report.private_token_sealed and report.created_at >= timezone.now() - window:
        token = private_token_unseal(
            report.private_token_sealed, token_hash_stored=report.private_token_hash or ""
        )
    return ReportSubmission(report=report, private_token=token, created=False)
