"""Writes for Open311: API keys, and a request (report) submitted by an Open311 client.

A report from an Open311 client is a citizen's report like any other: it goes through
`issues.services.report_submit` (the same validation, routing to district and unit, tracking code,
idempotency, photos and notifications as the web form), with channel `open311`. The answers to the
category's extra questions (service definition attributes), the description (text, kept as sent
and escaped by each output, as everywhere), the contact details are checked there, by
issues.validation. What is specific to Open311 is done here: a point is required where the category
needs one (addresses are not geocoded), `media_url` must be a web address, and the fields the Report
has no column for (`device_id`, `account_id`, `address_id`, `media_url`) and the client's key are
kept in a private note for 137 staff.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from issues import events
from issues.formats import token_hash
from issues.models import ApiKey, Category, Channel
from issues.photos import photo_files_undone_on_error
from issues.services.submission import ReportSubmission, report_submit

IDEMPOTENCY_KEY_MAX = 100


@transaction.atomic
def api_key_create(*, name: str, key: str | None = None) -> tuple[ApiKey, str]:
    """A new key for an Open311 client; only its SHA-256 is stored, so the key returned here is the
    only copy: show it once and let the client keep it. `key` is for the demo's published key only."""
    key = key or secrets.token_urlsafe(32)
    api_key = ApiKey(name=name.strip(), prefix=key[:8], key_hash=token_hash(key))
    api_key.full_clean()
    api_key.save()
    return api_key, key


def api_key_authenticate(*, key: str | None) -> ApiKey | None:
    """The active key matching `key`, its use recorded; None for a missing, unknown or revoked key."""
    if not key or len(key) > 200:
        return None
    api_key = ApiKey.objects.filter(key_hash=token_hash(key), active=True).first()
    if api_key is not None:
        api_key.last_used_at = timezone.now()
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=api_key.last_used_at)
    return api_key


def api_keys_deactivate(*, ids: Sequence[int]) -> int:
    """Revoke keys (they stay listed, so the history of who sent what is kept)."""
    return ApiKey.objects.filter(pk__in=ids, active=True).update(active=False)


def open311_request_submit(
    *,
    api_key: ApiKey,
    category: Category,
    location: Point | None,
    address_string: str = "",
    address_id: str = "",
    attributes: dict[str, list[str]] | None = None,
    description: str = "",
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    device_id: str = "",
    account_id: str = "",
    media_url: str = "",
    photos: Sequence[UploadedFile] = (),
    idempotency_key: str = "",
) -> ReportSubmission:
    """Submit a report for an Open311 client. We do not geocode: a category that needs a point
    refuses a request that only has an address, rather than guessing where it is. `attributes` are
    the `attribute[code]` / `attribute[code][]` parameters as lists of values, by code."""
    errors: dict[str, list[str]] = {}
    if location is None and category.location_required:
        errors["lat"] = [
            _(
                "This service needs a point on the map: send lat and long. An address alone is not "
                "enough, because addresses are not geocoded."
            )
        ]
    if media_url:
        try:
            URLValidator(schemes=["http", "https"])(media_url)
        except ValidationError:
            errors["media_url"] = [_("media_url must be an http or https URL.")]
    if len(idempotency_key) > IDEMPOTENCY_KEY_MAX:
        errors["Idempotency-Key"] = [_("At most %(n)d characters.") % {"n": IDEMPOTENCY_KEY_MAX}]
    if errors:
        raise ValidationError(errors)
    # The client's details are a private event written with the report: one transaction, and the
    # photo files go with it if it fails.
    with photo_files_undone_on_error(), transaction.atomic():
        submission = report_submit(
            category=category,
            location=location,
            description=description,
            channel=Channel.OPEN311,
            address=address_string,
            reporter_name=" ".join(part for part in (first_name, last_name) if part),
            reporter_phone=phone,
            reporter_email=email,
            attributes=dict(attributes or {}),
            photos=photos,
            # A retry from the same client with the same key gets the same report; keys are scoped to
            # the client (stored as `open311:<API key id>:<key>`, report_submit adding the channel), so
            # two clients cannot collide, nor a client of another entrance.
            idempotency_key=f"{api_key.pk}:{idempotency_key}" if idempotency_key else None,
        )
        if submission.created:
            extra = {
                "api_key": api_key.prefix,
                "device_id": device_id,
                "account_id": account_id,
                "address_id": address_id,
                "media_url": media_url,
            }
            events.client_details_event(
                report=submission.report,
                details=extra,
                note=_("Received through Open311 from “%(client)s”.") % {"client": api_key.name}
                + (" " + _("Photo link: %(url)s") % {"url": media_url} if media_url else ""),
            )
    return submission
