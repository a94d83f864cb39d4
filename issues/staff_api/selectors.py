"""Reads the staff API needs besides the inbox (issues.workflow.inbox): the objects an action names
by code (a unit, a member of staff)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from districts.models import ServiceArea


def service_area_by_code(*, code: str) -> ServiceArea | None:
    """The service area (unit) with this code, active or not: the service says why an inactive one
    cannot take a report."""
    if not code or "\x00" in code:
        return None
    return ServiceArea.objects.filter(code=code).first()


def staff_user_by_username(*, username: str) -> AbstractBaseUser | None:
    """The active user with this username, or None; whether they may take the report is the
    service's question (their own scope)."""
    if not username or "\x00" in username:
        return None
    user_model = get_user_model()
    return user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}, is_active=True).first()
