"""Signing in and out, and the check every other page makes first: signed in (else the sign-in
page), a member of staff (else 403), and of a role the page is for (else 403). Scope, the reports a
member of staff may see, is applied by the selectors themselves, not here."""

from __future__ import annotations

from collections.abc import Callable, Collection
from functools import wraps
from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from issues.models import Role
from issues.workflow.scope import StaffScope, staff_scope
from open137.pages import forbidden_page

StaffView = Callable[..., HttpResponse]

# Roles that work reports: the inbox and a report's page. The council reads numbers only.
REPORT_ROLES = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.DISTRICT_MANAGER, Role.UNIT_STAFF})
SUPERVISORS = frozenset({Role.SUPERVISOR})


class ConsoleLoginView(auth_views.LoginView):
    template_name = "console/login.html"
    redirect_authenticated_user = True
    extra_context = {"title": gettext_lazy("Staff sign-in")}


class ConsoleLogoutView(auth_views.LogoutView):
    # Django's LogoutView answers POST only: signing out is a form with a CSRF token, not a link.
    next_page = "console:login"


def forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return forbidden_page(
        request,
        frame="console/base.html",
        message=message,
        back_url=reverse("maps:home"),
        back_label=_("Back to the public site"),
    )


def staff_required(roles: Collection[str] = REPORT_ROLES) -> Callable[[StaffView], StaffView]:
    """The view gets the member of staff's scope as `scope`. Anonymous: to the sign-in page; signed
    in but not staff, or staff of another role: 403."""

    def decorator(view: StaffView) -> StaffView:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            scope = staff_scope(user=request.user)
            if scope is None:
                return forbidden(request, _("This page is for the municipality's staff only."))
            if scope.role not in roles:
                if scope.role == Role.COUNCIL:
                    return forbidden(
                        request, _("Council members see the numbers and maps, not individual reports.")
                    )
                return forbidden(request, _("Your role cannot open this page."))
            response: HttpResponse = view(request, *args, scope=scope, **kwargs)
            # Staff pages carry names, notes and (for the 137 centre) phone numbers: never cached.
            response.setdefault("Cache-Control", "private, no-store")
            return response

        return wrapped

    return decorator


ROLE_LABELS: dict[str, Any] = {
    Role.OPERATOR: gettext_lazy("Operator, 137 centre"),
    Role.SUPERVISOR: gettext_lazy("Supervisor, 137 centre"),
    Role.DISTRICT_MANAGER: gettext_lazy("District manager"),
    Role.UNIT_STAFF: gettext_lazy("Unit staff"),
    Role.COUNCIL: gettext_lazy("Council member"),
}


def _call_url() -> str | None:
    # The 137 call screen is another page of the console; until it exists the link is left out.
    try:
        return reverse("console:call")
    except NoReverseMatch:
        return None


def page(
    request: HttpRequest, template: str, context: dict[str, Any], *, scope: StaffScope, status: int = 200
) -> HttpResponse:
    """Render a console page with what the header needs: the role, and the links it may follow."""
    nav = {
        "scope": scope,
        "role_label": ROLE_LABELS.get(scope.role, scope.role),
        "is_supervisor": scope.role in SUPERVISORS,
        "call_url": _call_url() if scope.role in (Role.OPERATOR, Role.SUPERVISOR) else None,
    }
    return render(request, template, {**nav, **context}, status=status)
