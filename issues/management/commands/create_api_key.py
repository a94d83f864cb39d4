"""`manage.py create_api_key NAME`: a key for an Open311 client (a city app, a partner's back-end).

Only the key's SHA-256 is stored, so the key printed here is the only copy: hand it to the client
now. The key goes to standard output alone (easy to capture in a script), the explanation to
standard error.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from issues.open311.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for an Open311 client and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who the key is for, e.g. “Qazvin citizen app”.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            api_key, key = api_key_create(name=options["name"])
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stderr.write(
            f"API key “{api_key.name}” created (prefix {api_key.prefix}). It is shown only now; "
            "store it with the client:"
        )
        self.stdout.write(key)
