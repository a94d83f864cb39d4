"""Writes for Open311: API keys, and a request (report) submitted by an Open311 client.

A report from an Open311 client is a citizen's report like any other: it goes through
`issues.services.report_submit` (the same validation, routing to district and unit, tracking code,
idempotency, photos and notifications as the web form), with channel `open311`. What is specific to
Open311 is done here: the category's extra questions (service definition attributes) are checked,
the description is kept to plain text, and the fields the Report has no column for (`device_id`,
`account_id`, `address_id`, `media_url`) and the client's key are kept in a private note for 137
staff.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import strip_tags
from django.utils.translation import gettext as _

from geo.text import normalize_digits
from issues.models import ApiKey, Category, CategoryAttribute, Channel, ReportEvent
from issues.services import ReportSubmission, report_submit

# The spec: "description: up to 4,000 characters".
DESCRIPTION_MAX = 4000
STRING_MAX = 1000
IDEMPOTENCY_KEY_MAX = 100


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, name: str, key: str | None = None) -> tuple[ApiKey, str]:
    """A new key for an Open311 client; only its SHA-256 is stored, so the key returned here is the
    only copy: show it once and let the client keep it. `key` is for the demo's published key only."""
    key = key or secrets.token_urlsafe(32)
    api_key = ApiKey(name=name.strip(), prefix=key[:8], key_hash=_key_hash(key))
    api_key.full_clean()
    api_key.save()
    return api_key, key


def api_key_authenticate(*, key: str | None) -> ApiKey | None:
    """The active key matching `key`, its use recorded; None for a missing, unknown or revoked key."""
    if not key or len(key) > 200:
        return None
    api_key = ApiKey.objects.filter(key_hash=_key_hash(key), active=True).first()
    if api_key is not None:
        api_key.last_used_at = timezone.now()
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=api_key.last_used_at)
    return api_key


def api_keys_deactivate(*, ids: Sequence[int]) -> int:
    """Revoke keys (they stay listed, so the history of who sent what is kept)."""
    return ApiKey.objects.filter(pk__in=ids, active=True).update(active=False)


def _list_keys(definition: Mapping[str, Any]) -> set[str]:
    return {str(v.get("key")) for v in definition.get("values") or [] if isinstance(v, dict)}


def attributes_clean(
    *, definitions: Sequence[Mapping[str, Any]], submitted: dict[str, list[str]]
) -> dict[str, Any]:
    """The answers to a category's questions, checked against its definitions: required ones
    present, list values among the allowed keys, numbers and dates readable. Answers to questions
    the category does not ask are ignored (a client may hold an older service definition)."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for definition in definitions:
        code = definition["code"]
        name = f"attribute[{code}]"
        values = submitted.get(code, [])
        datatype = definition["datatype"]
        if not values:
            if definition["required"]:
                errors[name] = [_("This attribute is required.")]
            continue
        if datatype == CategoryAttribute.Datatype.MULTIVALUELIST:
            allowed = _list_keys(definition)
            wrong = [v for v in values if v not in allowed]
            if wrong:
                errors[name] = [
                    _("“%(value)s” is not one of the allowed values: %(allowed)s.")
                    % {"value": wrong[0][:60], "allowed": ", ".join(sorted(allowed))}
                ]
            else:
                cleaned[code] = list(dict.fromkeys(values))
            continue
        if len(values) > 1:
            errors[name] = [_("This attribute takes a single value.")]
            continue
        text = values[0]
        if datatype == CategoryAttribute.Datatype.SINGLEVALUELIST:
            allowed = _list_keys(definition)
            if text not in allowed:
                errors[name] = [
                    _("“%(value)s” is not one of the allowed values: %(allowed)s.")
                    % {"value": text[:60], "allowed": ", ".join(sorted(allowed))}
                ]
            else:
                cleaned[code] = text
        elif datatype == CategoryAttribute.Datatype.NUMBER:
            try:
                number = float(normalize_digits(text).replace("٫", "."))
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                errors[name] = [_("This attribute must be a number.")]
            else:
                cleaned[code] = int(number) if number.is_integer() and abs(number) < 2**53 else number
        elif datatype == CategoryAttribute.Datatype.DATETIME:
            try:
                moment = parse_datetime(text)
            except ValueError:
                moment = None
            if moment is None:
                errors[name] = [_("This attribute must be an ISO 8601 date and time.")]
            else:
                cleaned[code] = moment.isoformat()
        else:
            limit = DESCRIPTION_MAX if datatype == CategoryAttribute.Datatype.TEXT else STRING_MAX
            if len(text) > limit:
                errors[name] = [_("At most %(n)d characters.") % {"n": limit}]
            else:
                cleaned[code] = strip_tags(text)
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def open311_request_submit(
    *,
    api_key: ApiKey,
    category: Category,
    location: Point | None,
    address_string: str = "",
    address_id: str = "",
    attributes: dict[str, list[str]] | None = None,
    attribute_definitions: Sequence[Mapping[str, Any]] = (),
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
    refuses a request that only has an address, rather than guessing where it is."""
    errors: dict[str, list[str]] = {}
    if location is None and category.location_required:
        errors["lat"] = [
            _(
                "This service needs a point on the map: send lat and long. An address alone is not "
                "enough, because addresses are not geocoded."
            )
        ]
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = [_("At most %(n)d characters.") % {"n": DESCRIPTION_MAX}]
    if media_url:
        try:
            URLValidator(schemes=["http", "https"])(media_url)
        except ValidationError:
            errors["media_url"] = [_("media_url must be an http or https URL.")]
    if len(idempotency_key) > IDEMPOTENCY_KEY_MAX:
        errors["Idempotency-Key"] = [_("At most %(n)d characters.") % {"n": IDEMPOTENCY_KEY_MAX}]
    try:
        cleaned = attributes_clean(definitions=attribute_definitions, submitted=attributes or {})
    except ValidationError as exc:
        errors.update(exc.message_dict)
        cleaned = {}
    if errors:
        raise ValidationError(errors)
    submission = report_submit(
        category=category,
        location=location,
        # The spec allows no HTML in a description: tags are dropped and the text kept.
        description=strip_tags(description).strip(),
        channel=Channel.OPEN311,
        address=address_string,
        reporter_name=" ".join(part for part in (first_name, last_name) if part),
        reporter_phone=phone,
        reporter_email=email,
        attributes=cleaned,
        photos=photos,
        # A retry from the same client with the same key gets the same report; keys are scoped to
        # the client, so two clients cannot collide.
        idempotency_key=f"open311:{api_key.pk}:{idempotency_key}" if idempotency_key else None,
    )
    if submission.created:
        extra = {
            "api_key": api_key.prefix,
            "device_id": device_id,
            "account_id": account_id,
            "address_id": address_id,
            "media_url": media_url,
        }
        ReportEvent.objects.create(
            report=submission.report,
            kind=ReportEvent.Kind.NOTE,
            actor_label="open311",
            public=False,
            note=_("Received through Open311 from “%(client)s”.") % {"client": api_key.name}
            + (" " + _("Photo link: %(url)s") % {"url": media_url} if media_url else ""),
            data={"open311": {k: v for k, v in extra.items() if v}},
        )
    return submission
