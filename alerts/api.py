"""POST /api/alerts/subscriptions/: ask for alerts (double opt-in, as on the page).

The answer never carries a contact, nor whether the contact already had such a subscription: a
new request and a repeated one are answered alike (202, the confirmation is on its way)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.models import RADIUS_MAX_M, RADIUS_MIN_M
from alerts.selectors import subscription_public
from alerts.services import ContactLimitReached, subscription_request
from alerts.throttling import AlertSubscribeThrottle
from issues.api.params import invalid
from issues.api.schema import ErrorSerializer, ThrottledSerializer
from issues.throttling import WriteThrottleMixin
from open137.api import SameSiteWrite


class SubscriptionInput(serializers.Serializer):
    email = serializers.CharField(
        required=False, allow_blank=True, max_length=254, help_text="E-mail, or phone."
    )
    phone = serializers.CharField(
        required=False, allow_blank=True, max_length=40, help_text="Mobile, for SMS."
    )
    language = serializers.ChoiceField(choices=["fa", "en"], required=False, default="fa")
    district = serializers.CharField(
        required=False, allow_blank=True, max_length=50, help_text="District code."
    )
    category = serializers.CharField(
        required=False, allow_blank=True, max_length=60, help_text="Category code."
    )
    lat = serializers.FloatField(required=False, allow_null=True)
    lon = serializers.FloatField(required=False, allow_null=True)
    radius_m = serializers.IntegerField(
        required=False, allow_null=True, help_text=f"With lat/lon: {RADIUS_MIN_M} to {RADIUS_MAX_M} metres."
    )


class SubscriptionPublicSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=["email", "sms"])
    language = serializers.CharField()
    district = serializers.CharField(allow_null=True)
    category = serializers.CharField(allow_null=True)
    lat = serializers.FloatField(allow_null=True)
    lon = serializers.FloatField(allow_null=True)
    radius_m = serializers.IntegerField(allow_null=True)


class SubscriptionRequestedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    subscription = SubscriptionPublicSerializer()


class SubscriptionCreateApi(WriteThrottleMixin, APIView):
    """Ask for alerts of new reports in a district, a category and/or within a radius of a point,
    by e-mail or SMS. Nothing starts until the link sent to the contact is followed."""

    permission_classes = [AllowAny, SameSiteWrite]
    authentication_classes: list[type] = []
    write_throttle_classes = [AlertSubscribeThrottle]
    throttle_message = gettext_lazy("Too many subscription requests from your address.")

    @extend_schema(
        operation_id="alerts_subscriptions_create",
        request=SubscriptionInput,
        responses={202: SubscriptionRequestedSerializer, 400: ErrorSerializer, 429: ThrottledSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = SubscriptionInput(data=request.data)
        if not serializer.is_valid():
            raise invalid(serializer.errors)
        data: dict[str, Any] = dict(serializer.validated_data)
        try:
            requested = subscription_request(
                email=data.get("email", ""),
                phone=data.get("phone", ""),
                language=data.get("language", "fa"),
                district_code=data.get("district", ""),
                category_code=data.get("category", ""),
                lat=data.get("lat"),
                lon=data.get("lon"),
                radius_m=data.get("radius_m"),
                via="api",
            )
        except ContactLimitReached as exc:
            retry_at = timezone.localtime(timezone.now() + timedelta(seconds=exc.retry_after))
            return Response(
                {
                    "error": _(
                        "Too many confirmation messages were sent to this contact today. Try again tomorrow."
                    ),
                    "retry_after": exc.retry_after,
                    "retry_at": retry_at.isoformat(timespec="seconds"),
                },
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(exc.retry_after)},
            )
        return Response(
            {
                "detail": _("A confirmation link is on its way; the alerts start once it is followed."),
                "subscription": subscription_public(subscription=requested.subscription),
            },
            status=status.HTTP_202_ACCEPTED,
        )
