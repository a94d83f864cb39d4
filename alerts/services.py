"""Writes for alert subscriptions: request one (double opt-in), confirm it, stop it. Each in one
transaction with its event and, where a message goes out, its outbox row (issues' outbox_queue):
either all of it exists or none does. The sending job is alerts/sending.py."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.events import (
    subscription_confirmed_event,
    subscription_created_event,
    subscription_resent_event,
    subscription_stopped_event,
)
from alerts.models import RADIUS_MAX_M, RADIUS_MIN_M, Subscription, SubscriptionToken
from alerts.selectors import criteria_of, district_code_active
from alerts.texts import confirmation_text, link_url
from districts.selectors import jurisdiction_covers, point_from_lat_lon
from geo.coords import CoordinateError
from issues.formats import token_hash
from issues.models import Category, OutboxMessage
from issues.notifications import outbox_queue
from issues.validation import email_clean, phone_clean

# A confirmation link older than this no longer confirms: ask again.
CONFIRM_TOKEN_DAYS = 7
# Confirmation messages one address or phone may receive a day, whoever asks: the address's owner
# is not to be flooded through our form (the per-client limit is the other half).
CONFIRMATIONS_PER_CONTACT_PER_DAY = 3
# The first key of the per-contact advisory lock (pg_advisory_xact_lock(key, hashtext(contact))).
CONTACT_LOCK_KEY = 137_010
TOKEN_BYTES = 24


class ContactLimitReached(Exception):
    """Too many confirmation messages to this contact today (a 429 to the caller); `retry_after`
    is in seconds, until the oldest of them is a day old."""

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class SubscriptionRequested:
    subscription: Subscription
    # False when an identical subscription of this contact is already active: nothing was sent.
    sent: bool


def token_new(*, subscription: Subscription, purpose: str) -> str:
    """A new random link token for the subscription; only its hash is stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    SubscriptionToken.objects.create(subscription=subscription, purpose=purpose, token_hash=token_hash(token))
    return token


def _int_or_none(value: object, *, field: str) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValidationError({field: [_("Enter a whole number of metres.")]})
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValidationError({field: [_("Enter a whole number of metres.")]}) from None
    return number


def _criteria_clean(
    *, district_code: str, category_code: str, lat: object, lon: object, radius_m: object
) -> tuple[str, Category | None, Point | None, int | None]:
    errors: dict[str, list[str]] = {}
    district_code = (district_code or "").strip()
    if district_code and not district_code_active(code=district_code):
        errors["district"] = [_("No district has the code “%(code)s”.") % {"code": district_code[:50]}]
    category = None
    category_code = (category_code or "").strip()
    if category_code:
        category = Category.objects.filter(code=category_code, active=True).first()
        if category is None:
            errors["category"] = [_("No category has the code “%(code)s”.") % {"code": category_code[:60]}]
    point: Point | None = None
    radius: int | None = None
    has_point = lat not in (None, "") or lon not in (None, "")
    try:
        radius = _int_or_none(radius_m, field="radius_m")
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if has_point:
        try:
            point = point_from_lat_lon(lat=lat, lon=lon)
        except CoordinateError as exc:
            errors.setdefault(exc.field if exc.field in ("lat", "lon") else "lat", []).append(exc.message)
        else:
            if not jurisdiction_covers(point=point):
                errors["lat"] = [_("Choose a point inside the city.")]
        if radius is None and "radius_m" not in errors:
            errors["radius_m"] = [_("Choose a radius around the point.")]
    elif radius is not None:
        errors["lat"] = [_("Choose the point the radius is around.")]
    if radius is not None and not RADIUS_MIN_M <= radius <= RADIUS_MAX_M:
        errors["radius_m"] = [
            _("The radius must be from %(min)d to %(max)d metres.")
            % {"min": RADIUS_MIN_M, "max": RADIUS_MAX_M}
        ]
    if not errors and not (district_code or category or point):
        errors["__all__"] = [_("Choose a district, a category or a point on the map (or several).")]
    if errors:
        raise ValidationError(errors)
    return district_code, category, point, radius


def _contact_clean(*, email: str, phone: str) -> tuple[str, str]:
    email, phone = (email or "").strip(), (phone or "").strip()
    if email and phone:
        raise ValidationError({"__all__": [_("Give an e-mail address or a phone number, not both.")]})
    if not email and not phone:
        raise ValidationError({"__all__": [_("Give an e-mail address or a phone number for the alerts.")]})
    if email:
        try:
            return OutboxMessage.Channel.EMAIL, email_clean(email=email)
        except ValidationError as exc:
            raise ValidationError({"email": exc.messages}) from None
    try:
        return OutboxMessage.Channel.SMS, phone_clean(phone=phone)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from None


def _confirmation_queue(*, subscription: Subscription) -> None:
    now = timezone.now()
    sent_today = list(
        SubscriptionToken.objects.filter(
            subscription__contact=subscription.contact,
            purpose=SubscriptionToken.Purpose.CONFIRM,
            created_at__gte=now - timedelta(days=1),
        )
        .order_by("created_at")
        .values_list("created_at", flat=True)
    )
    if len(sent_today) >= CONFIRMATIONS_PER_CONTACT_PER_DAY:
        wait = sent_today[-CONFIRMATIONS_PER_CONTACT_PER_DAY] + timedelta(days=1) - now
        raise ContactLimitReached(retry_after=max(1, math.ceil(wait.total_seconds())))
    confirm = token_new(subscription=subscription, purpose=SubscriptionToken.Purpose.CONFIRM)
    stop = token_new(subscription=subscription, purpose=SubscriptionToken.Purpose.STOP)
    subject, body = confirmation_text(
        language=subscription.language,
        criteria=criteria_of(subscription=subscription),
        confirm_url=link_url(name="alerts:confirm", token=confirm),
        stop_url=link_url(name="alerts:stop", token=stop),
    )
    email = subscription.channel == OutboxMessage.Channel.EMAIL
    outbox_queue(
        messages=[
            OutboxMessage(
                channel=subscription.channel,
                recipient=subscription.contact,
                subject=subject if email else "",
                body=body,
            )
        ]
    )


@transaction.atomic
def subscription_request(
    *,
    email: str = "",
    phone: str = "",
    language: str = "fa",
    district_code: str = "",
    category_code: str = "",
    lat: object = None,
    lon: object = None,
    radius_m: object = None,
    via: str = "web",
) -> SubscriptionRequested:
    """Ask for alerts: a pending subscription and a confirmation message to the contact, which
    starts nothing until its link is followed. The same request again for a contact whose identical
    subscription is pending sends the confirmation again (within the per-contact limit); if it is
    already active, nothing is written or sent. The caller's answer is the same either way, so the
    form does not tell who is subscribed to what.

    Raises ValidationError (by field: email, phone, language, district, category, lat, lon,
    radius_m) and ContactLimitReached; nothing is written then."""
    channel, contact = _contact_clean(email=email, phone=phone)
    if language not in ("fa", "en"):
        raise ValidationError({"language": [_("The language must be fa or en.")]})
    district_code, category, point, radius = _criteria_clean(
        district_code=district_code, category_code=category_code, lat=lat, lon=lon, radius_m=radius_m
    )
    # One request per contact at a time, until this transaction ends. Without it two identical
    # requests at once each found no subscription and made one (both confirmed, every alert went
    # twice), and parallel requests each counted the day's confirmations before any was written
    # (a phone flooded past the limit). A lock on rows cannot serve: the row does not exist yet.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [CONTACT_LOCK_KEY, contact])
    same = (
        Subscription.objects.select_for_update()
        .filter(
            contact=contact,
            channel=channel,
            district_code=district_code,
            category=category,
            radius_m=radius,
            status__in=[Subscription.Status.PENDING, Subscription.Status.ACTIVE],
        )
        .order_by("-created_at")
    )
    for existing in same:
        if (existing.center is None) != (point is None) or (
            point is not None
            and existing.center is not None
            and not existing.center.equals_exact(point, 1e-7)
        ):
            continue
        if existing.status == Subscription.Status.ACTIVE:
            return SubscriptionRequested(subscription=existing, sent=False)
        if existing.language != language:
            existing.language = language
            existing.save(update_fields=["language"])
        _confirmation_queue(subscription=existing)
        subscription_resent_event(subscription=existing, via=via)
        return SubscriptionRequested(subscription=existing, sent=True)
    subscription = Subscription.objects.create(
        channel=channel,
        contact=contact,
        language=language,
        district_code=district_code,
        category=category,
        center=point,
        radius_m=radius,
    )
    subscription_created_event(subscription=subscription, via=via)
    _confirmation_queue(subscription=subscription)
    return SubscriptionRequested(subscription=subscription, sent=True)


def _by_token(*, token: str | None, purpose: str) -> Subscription | None:
    if not token or len(token) > 200:
        return None
    try:
        digest = token_hash(token)
    except UnicodeEncodeError:
        return None
    row = (
        SubscriptionToken.objects.select_related("subscription")
        .filter(token_hash=digest, purpose=purpose)
        .first()
    )
    if row is None:
        return None
    if purpose == SubscriptionToken.Purpose.CONFIRM and row.created_at < timezone.now() - timedelta(
        days=CONFIRM_TOKEN_DAYS
    ):
        return None
    # Locked: a confirmation and a stop at the same instant are applied one after the other.
    return Subscription.objects.select_for_update().get(pk=row.subscription_id)


@dataclass(frozen=True)
class LinkOutcome:
    subscription: Subscription
    changed: bool


@transaction.atomic
def subscription_confirm(*, token: str | None, via: str = "link") -> LinkOutcome | None:
    """Follow a confirmation link: the subscription becomes active (alerts for reports from now
    on). None for an unknown or expired link. A stopped subscription stays stopped; confirming
    twice changes nothing the second time."""
    subscription = _by_token(token=token, purpose=SubscriptionToken.Purpose.CONFIRM)
    if subscription is None:
        return None
    if subscription.status != Subscription.Status.PENDING:
        return LinkOutcome(subscription=subscription, changed=False)
    subscription.status = Subscription.Status.ACTIVE
    subscription.confirmed_at = timezone.now()
    subscription.save(update_fields=["status", "confirmed_at"])
    subscription_confirmed_event(subscription=subscription, via=via)
    return LinkOutcome(subscription=subscription, changed=True)


@transaction.atomic
def subscription_stop(*, token: str | None, via: str = "link") -> LinkOutcome | None:
    """Follow a stop link (any message's): the subscription ends, pending or active. None for an
    unknown link; stopping twice changes nothing the second time."""
    subscription = _by_token(token=token, purpose=SubscriptionToken.Purpose.STOP)
    if subscription is None:
        return None
    if subscription.status == Subscription.Status.STOPPED:
        return LinkOutcome(subscription=subscription, changed=False)
    was = subscription.status
    subscription.status = Subscription.Status.STOPPED
    subscription.stopped_at = timezone.now()
    subscription.save(update_fields=["status", "stopped_at"])
    subscription_stopped_event(subscription=subscription, via=via, was=was)
    return LinkOutcome(subscription=subscription, changed=True)
