"""The staff API's token authentication: DRF's `Authorization: Token ...` scheme, with the token's
user and their scope read in one prepared round trip (issues.workflow.scope.staff_token_user)
instead of an ORM query for the token and another for the scope. Every request of the phone app
starts here."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from issues.workflow.scope import staff_token_user


class StaffTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        # A key is 40 hexadecimal characters; anything else cannot match and is not sent on.
        if len(key) > 64:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = staff_token_user(key=key)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (user, key)
