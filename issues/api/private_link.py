"""The reporter's writes with the private token of their private link: feedback on the work
(`feedback/`), a rating once the report is closed (`rating/`), no more messages (`stop-messages/`)."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_view,
)
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from issues.api.params import (
    FeedbackInput,
    PrivateTokenInput,
    RatingInput,
    conflict,
    invalid,
    not_found,
    private_link_refused,
)
from issues.api.schema import (
    CODE_PARAM,
    ConflictSerializer,
    ErrorSerializer,
    FeedbackResultSerializer,
    MessagesStoppedSerializer,
    RatingResultSerializer,
    ThrottledSerializer,
)
from issues.models import Report
from issues.selectors import (
    report_by_code,
    report_private_token_valid,
)
from issues.throttling import (
    ReportUpdateThrottle,
    WriteThrottleMixin,
)
from issues.workflow.citizen import report_citizen_confirm, report_messages_stop, report_rate
from issues.workflow.services import TransitionConflict
from open137.api import SameSiteWrite


class PrivateLinkApi(WriteThrottleMixin, APIView):
    """A write by the reporter with their private token (the `t` of the private link), as on the
    tracking page: the token is checked before anything else (403), then the per-address limit on
    these writes (429), then the values (400), then whether the report is in a state for it (409).
    Each endpoint names its input and what it does (`act`)."""

    permission_classes = [AllowAny, SameSiteWrite]
    authentication_classes: list[type] = []
    write_throttle_classes = [ReportUpdateThrottle]
    throttle_message = gettext_lazy("Too many changes through private links from your address.")
    input_class: type[PrivateTokenInput] = PrivateTokenInput
    _token_checked = False

    def check_throttles(self, request: Request) -> None:
        # DRF checks the limits before the view runs; here they wait for the token (see post).
        if self._token_checked:
            super().check_throttles(request)

    def act(self, report: Report, data: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def post(self, request: Request, code: str) -> Response:
        report = report_by_code(code=code)
        if report is None:
            return not_found(code)
        token = request.data.get("token") if hasattr(request.data, "get") else None
        if not isinstance(token, str) or not report_private_token_valid(report=report, token=token):
            return private_link_refused()
        self._token_checked = True
        self.check_throttles(request)
        serializer = self.input_class(data=request.data)
        if not serializer.is_valid():
            raise invalid(serializer.errors)
        try:
            body = self.act(report, dict(serializer.validated_data))
        except TransitionConflict as exc:
            return conflict(exc.message, code=exc.code, current=exc.current)
        return Response({"code": report.tracking_code, **body})


def _private_schema(operation_id: str, request: type, response: type) -> Any:
    return extend_schema_view(
        post=extend_schema(
            operation_id=operation_id,
            request=request,
            parameters=[CODE_PARAM],
            responses={
                200: response,
                400: ErrorSerializer,
                403: ErrorSerializer,
                404: ErrorSerializer,
                409: ConflictSerializer,
                429: ThrottledSerializer,
            },
        )
    )


@_private_schema("reports_feedback", FeedbackInput, FeedbackResultSerializer)
class ReportFeedbackApi(PrivateLinkApi):
    """The reporter says whether the unit's work fixed the problem: fixed closes the report (it is
    verified by the reporter), not fixed reopens it and sends it back to the unit. 409 before the
    unit reports the work done."""

    input_class = FeedbackInput

    def act(self, report: Report, data: dict[str, Any]) -> dict[str, Any]:
        confirmation = report_citizen_confirm(report=report, fixed=data["fixed"], note=data["note"])
        return {"fixed": data["fixed"], "status": confirmation.report.status}


@_private_schema("reports_rating", RatingInput, RatingResultSerializer)
class ReportRatingApi(PrivateLinkApi):
    """The reporter rates the service once the report is closed: a score from 1 to 5, reasons and a
    comment, once per report (409 the second time, and before the report is closed)."""

    input_class = RatingInput

    def act(self, report: Report, data: dict[str, Any]) -> dict[str, Any]:
        try:
            rating = report_rate(
                report=report, score=data["score"], reasons=data["reasons"], comment=data["comment"]
            )
        except DjangoValidationError as exc:
            if getattr(exc, "code", None) != "already_rated":
                raise
            raise TransitionConflict(
                " ".join(exc.messages), code="already_rated", current={"status": report.status}
            ) from None
        return {"score": rating.score, "reasons": rating.reasons}


@_private_schema("reports_stop_messages", PrivateTokenInput, MessagesStoppedSerializer)
class ReportStopMessagesApi(PrivateLinkApi):
    """The reporter wants no more SMS or e-mail about this report (asking again changes nothing)."""

    def act(self, report: Report, data: dict[str, Any]) -> dict[str, Any]:
        return {"messages_stopped": True, "changed": report_messages_stop(report=report)}
