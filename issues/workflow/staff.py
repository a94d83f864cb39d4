"""Members of staff: a user with a role and a scope (issues/workflow/scope.py reads them)."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from districts.models import District, ServiceArea
from issues.models import Role, StaffProfile


@transaction.atomic
def staff_user_create(
    *,
    username: str,
    password: str,
    role: str,
    district_codes: Sequence[str] = (),
    service_area_codes: Sequence[str] = (),
    first_name: str = "",
    last_name: str = "",
    email: str = "",
) -> AbstractBaseUser:
    """A new member of staff. A district manager needs district codes that exist, unit staff
    service-area codes that exist; the others see the whole city and take none."""
    if role not in Role.values:
        raise ValidationError({"role": [_("Unknown role “%(role)s”.") % {"role": role}]}, code="invalid")
    district_codes = list(dict.fromkeys(district_codes))
    service_area_codes = list(dict.fromkeys(service_area_codes))
    if role == Role.DISTRICT_MANAGER:
        known = set(District.objects.filter(code__in=district_codes).values_list("code", flat=True))
        if not district_codes or set(district_codes) - known:
            raise ValidationError(
                {
                    "district_codes": [
                        _("A district manager needs existing district codes: %(codes)s.")
                        % {"codes": ", ".join(sorted(set(district_codes) - known)) or "-"}
                    ]
                },
                code="invalid",
            )
    elif district_codes:
        raise ValidationError(
            {"district_codes": [_("Only a district manager has districts.")]}, code="invalid"
        )
    if role == Role.UNIT_STAFF:
        known = set(ServiceArea.objects.filter(code__in=service_area_codes).values_list("code", flat=True))
        if not service_area_codes or set(service_area_codes) - known:
            raise ValidationError(
                {
                    "service_area_codes": [
                        _("Unit staff need existing service area codes: %(codes)s.")
                        % {"codes": ", ".join(sorted(set(service_area_codes) - known)) or "-"}
                    ]
                },
                code="invalid",
            )
    elif service_area_codes:
        raise ValidationError(
            {"service_area_codes": [_("Only unit staff have service areas.")]}, code="invalid"
        )
    user = get_user_model().objects.create_user(
        username=username, password=password, first_name=first_name, last_name=last_name, email=email
    )
    StaffProfile.objects.create(
        user=user, role=role, district_codes=district_codes, service_area_codes=service_area_codes
    )
    return user
