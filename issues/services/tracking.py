"""Tracking codes: what a citizen reads out to the 137 operator to follow a report."""

from __future__ import annotations

import secrets

from django.db import IntegrityError

# Tracking codes are read over the phone: no 0/O, 1/I/L, 2/Z, 5/S or 8/B to confuse.
TRACKING_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
TRACKING_LENGTH = 8


# 25**8 codes: a clash is rare, and the unique constraint, not a look-up beforehand, catches it.
TRACKING_ATTEMPTS = 5


def tracking_code_new() -> str:
    # One draw from the whole code space, written in base 25: each code as likely as any other, with
    # one read of the system's randomness instead of one per letter.
    number = secrets.randbelow(len(TRACKING_ALPHABET) ** TRACKING_LENGTH)
    letters = []
    for _position in range(TRACKING_LENGTH):
        number, index = divmod(number, len(TRACKING_ALPHABET))
        letters.append(TRACKING_ALPHABET[index])
    return "".join(letters)


def is_tracking_code_clash(exc: IntegrityError) -> bool:
    constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or ""
    return "tracking_code" in constraint
