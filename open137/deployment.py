"""What production needs from its settings before it may serve citizens.

The demo defaults send e-mail to the console, SMS to a log file, from `137@localhost`, with links to
127.0.0.1: harmless on a laptop, silent failures in a city (no citizen ever gets a tracking code,
and every private link points nowhere). These functions say what is missing or unsafe, as plain
values in and problems out, with no Django app imported: `open137/settings.py` calls them at import
time (production refuses to start, naming every missing setting at once) and `issues/checks.py` as
system checks (`check --deploy`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.http.request import split_domain_port, validate_host

# Django's e-mail backends that deliver nothing: they print, write a file, keep the message in
# memory or drop it.
NON_DELIVERING_EMAIL_BACKENDS = frozenset(
    {
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.filebased.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
        "django.core.mail.backends.dummy.EmailBackend",
    }
)
SMTP_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


@dataclass(frozen=True)
class Problem:
    id: str  # the system check's id
    setting: str  # the environment variable to set
    message: str

    def __str__(self) -> str:
        return f"{self.setting}: {self.message}"


def _local_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def email_problems(*, backend: str, host: str, from_email: str) -> list[Problem]:
    problems = []
    if backend in NON_DELIVERING_EMAIL_BACKENDS:
        problems.append(
            Problem(
                "open137.E001",
                "OPEN137_EMAIL_BACKEND",
                f"{backend} sends no e-mail: citizens would never get their tracking code. Leave it "
                f"unset for SMTP ({SMTP_EMAIL_BACKEND}) or name a backend that delivers.",
            )
        )
    elif backend == SMTP_EMAIL_BACKEND and not host:
        problems.append(
            Problem(
                "open137.E002",
                "OPEN137_EMAIL_HOST",
                "the SMTP server that sends citizens' e-mail is not set (with OPEN137_EMAIL_PORT, "
                "OPEN137_EMAIL_USER, OPEN137_EMAIL_PASSWORD, OPEN137_EMAIL_TLS as it needs).",
            )
        )
    address = parseaddr(from_email)[1]
    domain = address.rpartition("@")[2]
    if "@" not in address or "." not in domain or _local_host(domain):
        problems.append(
            Problem(
                "open137.E003",
                "OPEN137_EMAIL_FROM",
                f"the sender of citizens' e-mail ({from_email or 'not set'}) must be a real address "
                "of the city's domain, e.g. 137@qazvin.ir; mail from a local name is refused or "
                "filed as spam.",
            )
        )
    return problems


def sms_problems(*, backend: str, url: str, api_key: str) -> list[Problem]:
    if not backend:
        return [
            Problem(
                "open137.E004",
                "OPEN137_SMS_BACKEND",
                "no SMS gateway is set: `http` (with OPEN137_SMS_URL and OPEN137_SMS_API_KEY) or the "
                "dotted path of a gateway class.",
            )
        ]
    if backend == "log":
        return [
            Problem(
                "open137.E004",
                "OPEN137_SMS_BACKEND",
                "`log` writes SMS to a file instead of sending them (the demo's gateway): use `http` "
                "or a gateway class.",
            )
        ]
    problems = []
    if backend == "http":
        if not url.startswith("https://"):
            problems.append(
                Problem(
                    "open137.E005",
                    "OPEN137_SMS_URL",
                    f"the http SMS gateway needs its https:// address ({url or 'not set'}): the API "
                    "key and the citizens' private links go in every request.",
                )
            )
        if not api_key:
            problems.append(
                Problem("open137.E006", "OPEN137_SMS_API_KEY", "the http SMS gateway's API key is not set.")
            )
    return problems


def public_url_problems(*, public_url: str, allowed_hosts: Sequence[str]) -> list[Problem]:
    parts = urlsplit(public_url)
    host, _port = split_domain_port(parts.netloc.rpartition("@")[2])
    if parts.scheme != "https" or not host or _local_host(host):
        return [
            Problem(
                "open137.E007",
                "OPEN137_PUBLIC_URL",
                f"links in citizens' messages would point to {public_url or 'nothing'}: set the "
                "site's public https:// address, e.g. https://137.qazvin.ir.",
            )
        ]
    if not validate_host(host, list(allowed_hosts)):
        return [
            Problem(
                "open137.E008",
                "OPEN137_PUBLIC_URL",
                f"its host {host} is not in OPEN137_ALLOWED_HOSTS: every link in citizens' messages "
                "would answer 400 Bad Request.",
            )
        ]
    return []


def message_problems(
    *,
    email_backend: str,
    email_host: str,
    from_email: str,
    sms_backend: str,
    sms_url: str,
    sms_api_key: str,
    public_url: str,
    allowed_hosts: Sequence[str],
) -> list[Problem]:
    """Everything that would make messages to citizens fail quietly, or carry dead links."""
    return [
        *email_problems(backend=email_backend, host=email_host, from_email=from_email),
        *sms_problems(backend=sms_backend, url=sms_url, api_key=sms_api_key),
        *public_url_problems(public_url=public_url, allowed_hosts=allowed_hosts),
    ]


def num_proxies(value: str | None) -> int:
    """OPEN137_NUM_PROXIES: how many reverse proxies stand between the clients and the app (0 when
    unset outside production; `num_proxies_problems` says production must give it)."""
    if value is None or not value.strip():
        return 0
    try:
        count = int(value.strip())
    except ValueError:
        count = -1
    if count < 0:
        raise ImproperlyConfigured(f"OPEN137_NUM_PROXIES must be a whole number, 0 or more (not {value!r}).")
    return count


def num_proxies_problems(value: str | None) -> list[Problem]:
    """In production the proxy count must be given, 0 included: it decides which address of
    X-Forwarded-For is the client's, and a wrong default either makes the whole city one client
    (the proxy: one write limit and one "me too" for everybody) or lets each client pick its own."""
    if value is not None and value.strip():
        return []
    return [
        Problem(
            "open137.E009",
            "OPEN137_NUM_PROXIES",
            "the number of reverse proxies in front of the app is not set: 1 for the usual nginx, 2 "
            "for a load balancer in front of it, 0 if clients connect to the app directly. Write "
            "limits and 'me too' count each client by the address the outermost proxy saw.",
        )
    ]


def refuse_unless_fine(problems: Sequence[Problem]) -> None:
    if problems:
        raise ImproperlyConfigured(
            "OPEN137_PRODUCTION=1 needs these settings before it can serve citizens:\n"
            + "\n".join(f"  {problem}" for problem in problems)
        )
