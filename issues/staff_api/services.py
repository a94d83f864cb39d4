"""Writes of the staff API: a member of staff's API token, issued for a username and password and
revoked by its holder. One token per user (rest_framework.authtoken), sent as
`Authorization: Token <key>`; it stays valid until revoked here or in the admin, or until the
user is deactivated."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import authenticate
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from issues.workflow.scope import StaffScope, staff_scope
from issues.workflow.services import WorkflowError


class InvalidCredentials(WorkflowError):
    status = 400
    code = "invalid_credentials"


class NotStaff(WorkflowError):
    status = 403
    code = "not_staff"


@dataclass(frozen=True)
class IssuedToken:
    key: str
    user: AbstractBaseUser
    scope: StaffScope


@transaction.atomic
def staff_token_obtain(*, username: str, password: str, request: HttpRequest | None = None) -> IssuedToken:
    """The user's token (made on first use) when the password is right and the user is staff: a
    member with a StaffProfile (any role, the council too) or a superuser. A wrong password, an
    unknown or deactivated user are one answer (400, `invalid_credentials`), so the answer does not
    tell which accounts exist; a right password of a user who is not staff is a 403 (`not_staff`)."""
    user = authenticate(request, username=username, password=password)
    if user is None:
        raise InvalidCredentials(_("Wrong username or password (or the account is deactivated)."))
    scope = staff_scope(user=user)
    if scope is None:
        raise NotStaff(_("Only municipal staff can have an API token."))
    token, _created = Token.objects.get_or_create(user=user)
    return IssuedToken(key=token.key, user=user, scope=scope)


@transaction.atomic
def staff_token_revoke(*, user: AbstractBaseUser) -> bool:
    """Delete the user's token (a lost phone, a finished script); True if there was one."""
    deleted, _rows = Token.objects.filter(user_id=user.pk).delete()
    return deleted > 0
