"""The staff API: a token for a username and password, the inbox, one report's staff view and the
workflow's actions. Thin: read the input, call one selector or service, render.

Every read and write goes through the member of staff's scope (issues.workflow.scope): a report
outside it is a 404, as if it did not exist. Answers are never cached (`Cache-Control: no-store`):
they hold what a proxy must not keep, the reporter's contact details among them.
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from issues.api.params import page_param
from issues.filters import FilterError
from issues.staff_api.authentication import StaffTokenAuthentication
from issues.staff_api.documents import action_result_json, report_collection_json, report_detail_json
from issues.staff_api.params import (
    ActionInputSerializer,
    Problem,
    action_input_read,
    filter_error,
    input_error,
    serializer_problems,
)
from issues.staff_api.schema import (
    CODE_PARAM,
    LIST_PARAMS,
    ActionResultSerializer,
    StaffConflictSerializer,
    StaffErrorSerializer,
    StaffReportCollectionSerializer,
    StaffReportDetailSerializer,
    StaffThrottledSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from issues.staff_api.services import staff_token_obtain, staff_token_revoke
from issues.throttling import StaffTokenThrottle, WriteThrottleMixin
from issues.workflow.inbox import (
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    staff_filters_parse,
    staff_report_detail,
    staff_report_page,
)
from issues.workflow.quick import report_transition_by_code
from issues.workflow.scope import StaffScope, staff_scope
from issues.workflow.services import ReportNotFound, WorkflowError
from open137.api import SameSiteWrite
from open137.api import exception_handler as project_exception_handler
from open137.parsers import SafeJSONParser

# --- Errors ----------------------------------------------------------------------------------------


def _django_validation_problems(exc: DjangoValidationError) -> list[Problem]:
    """A service's ValidationError as problems with codes. Django keeps the code given with a dict
    of errors (`ValidationError({"photos": [...]}, code="photo_required")`) only in the exception's
    args, not on its messages: it is read from there when a message has none of its own."""
    given = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], str) else None
    if hasattr(exc, "error_dict"):
        return [
            (field, error.code or given or "invalid", " ".join(str(m) for m in error))
            for field, errors in exc.error_dict.items()
            for error in errors
        ]
    return [
        ("non_field_errors", error.code or given or "invalid", " ".join(str(m) for m in error))
        for error in exc.error_list
    ]


def staff_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The project's error body (open137.api.exception_handler: `error`, a stable `code`, and for a
    400 `detail` and `errors`), with the workflow's refusals with their own status: 404, 403, 409
    (with the report's `current` status and version), and a service's ValidationError read with the
    codes this API documents."""
    if isinstance(exc, WorkflowError):
        body: dict[str, Any] = {"error": exc.message, "code": exc.code}
        if exc.current:
            body["current"] = exc.current
        return Response(body, status=exc.status)
    if isinstance(exc, DjangoValidationError):
        exc = input_error(_django_validation_problems(exc))
    return project_exception_handler(exc, context)


# --- Access ----------------------------------------------------------------------------------------


class WorksReports(BasePermission):
    """Staff who work reports: 137 operators and supervisors, district managers, unit staff. Anyone
    not signed in gets a 401; a signed-in user who is not staff, or a council member (numbers and
    maps, no report rows), a 403. The scope found is kept on the view for the handler."""

    message: Any = gettext_lazy("Only municipal staff may use this API.")
    code = "not_staff"

    def has_permission(self, request: Request, view: Any) -> bool:
        scope = staff_scope(user=request.user)
        if scope is None:
            return False
        if not scope.sees_reports:
            self.message = _("Council members see numbers and maps, not individual reports.")
            self.code = "no_report_access"
            return False
        view.scope = scope
        return True


class StaffApiView(APIView):
    """Base of the report endpoints: a token (apps, scripts) or the console's session (with its
    CSRF token for writes); JSON answers, never cached."""

    authentication_classes = [StaffTokenAuthentication, SessionAuthentication]
    permission_classes = [WorksReports]
    renderer_classes = [JSONRenderer]
    scope: StaffScope

    def get_exception_handler(self) -> Any:
        return staff_exception_handler

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "private, no-store"
        return response


def not_found(code: str) -> ReportNotFound:
    # The same answer for a code that exists out of scope and for one that does not exist at all.
    return ReportNotFound(_("No report has the tracking code “%(code)s”.") % {"code": code[:40]})


STAFF_ERRORS = {
    401: OpenApiResponse(StaffErrorSerializer, description="Not signed in (no or a bad token)."),
    403: OpenApiResponse(StaffErrorSerializer, description="Not staff, or a council member."),
}


# --- Views -----------------------------------------------------------------------------------------


class StaffTokenApi(WriteThrottleMixin, APIView):
    """POST: a member of staff's API token for their username and password (JSON). DELETE (with
    the token): revoke it."""

    permission_classes = [AllowAny, SameSiteWrite]
    parser_classes = [SafeJSONParser]
    renderer_classes = [JSONRenderer]
    write_throttle_classes = [StaffTokenThrottle]
    throttle_message = gettext_lazy("Too many sign-in attempts from your address.")

    def get_authenticators(self) -> list[BaseAuthentication]:
        # Signing in needs no credentials of its own, and a stale token sent along must not stop it.
        if self.request is not None and self.request.method == "POST":
            return []
        return [StaffTokenAuthentication()]

    def get_permissions(self) -> list[Any]:
        if self.request is not None and self.request.method == "DELETE":
            return [IsAuthenticated()]
        return list(super().get_permissions())

    def get_exception_handler(self) -> Any:
        return staff_exception_handler

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if isinstance(response.data, dict):
            response.data.setdefault("code", "throttled" if response.status_code == 429 else "error")
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(
        operation_id="auth_token_create",
        request=TokenRequestSerializer,
        auth=[],
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(StaffErrorSerializer, description="Wrong username or password."),
            403: OpenApiResponse(StaffErrorSerializer, description="The user is not staff."),
            415: StaffErrorSerializer,
            429: StaffThrottledSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        if not serializer.is_valid():
            raise input_error(serializer_problems(serializer.errors))
        issued = staff_token_obtain(
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
            request=request._request,
        )
        return Response(
            {"token": issued.key, "username": issued.user.get_username(), "role": issued.scope.role},
            headers={"Cache-Control": "no-store"},
        )

    @extend_schema(
        operation_id="auth_token_destroy",
        request=None,
        responses={204: None, 401: StaffErrorSerializer},
    )
    def delete(self, request: Request) -> Response:
        staff_token_revoke(user=cast(AbstractBaseUser, request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)


class StaffReportListApi(StaffApiView):
    """The reports in the user's scope, newest first, as a GeoJSON FeatureCollection, a page at a
    time by cursor (`next`)."""

    @extend_schema(
        operation_id="staff_reports_list",
        parameters=LIST_PARAMS,
        responses={
            (200, "application/geo+json"): StaffReportCollectionSerializer,
            (400, "application/json"): StaffErrorSerializer,
            (401, "application/json"): STAFF_ERRORS[401],
            (403, "application/json"): STAFF_ERRORS[403],
        },
    )
    def get(self, request: Request) -> HttpResponse:
        page_size = page_param(request, "page_size", PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX)
        try:
            filters = staff_filters_parse(request.query_params)
            rows, next_cursor = staff_report_page(
                scope=self.scope,
                filters=filters,
                cursor=request.query_params.get("cursor") or None,
                limit=page_size,
            )
        except FilterError as exc:
            raise filter_error(exc) from None
        next_url = (
            replace_query_param(request.build_absolute_uri(), "cursor", next_cursor) if next_cursor else None
        )
        return HttpResponse(
            orjson.dumps(report_collection_json(rows, next_url=next_url)),
            content_type="application/geo+json",
        )


class StaffReportDetailApi(StaffApiView):
    """One report as staff see it: every event (internal ones too), every photo, what this user may
    do now; the reporter's contacts for the 137 centre."""

    @extend_schema(
        operation_id="staff_reports_detail",
        parameters=[CODE_PARAM],
        responses={200: StaffReportDetailSerializer, 404: StaffErrorSerializer, **STAFF_ERRORS},
    )
    def get(self, request: Request, code: str) -> Response:
        report = staff_report_detail(scope=self.scope, code=code)
        if report is None:
            raise not_found(code)
        return Response(report_detail_json(report, scope=self.scope))


class StaffReportActionApi(StaffApiView):
    """Take one step of the workflow on a report (acknowledge, start, done, transfer, ...)."""

    @extend_schema(
        operation_id="staff_reports_action",
        parameters=[CODE_PARAM],
        request={"application/json": ActionInputSerializer, "multipart/form-data": ActionInputSerializer},
        responses={
            200: ActionResultSerializer,
            400: StaffErrorSerializer,
            **STAFF_ERRORS,
            403: OpenApiResponse(
                StaffErrorSerializer, description="Not staff, a council member, or a step not for this role."
            ),
            404: OpenApiResponse(StaffErrorSerializer, description="No such report in this user's scope."),
            409: OpenApiResponse(
                StaffConflictSerializer,
                description="The report moved on (another state, or not at the `version` sent).",
            ),
        },
    )
    def post(self, request: Request, code: str) -> Response:
        action = action_input_read(data=request.data, scope=self.scope)
        actor = cast(AbstractBaseUser, request.user)  # signed-in staff: WorksReports let them in
        result = report_transition_by_code(
            code=code, actor=actor, scope=self.scope, **action.transition_kwargs()
        )
        return Response(action_result_json(result, scope=self.scope))
