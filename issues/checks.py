"""System checks for messages to citizens (registered in IssuesConfig.ready()).

- `open137.E001`-`E008` (deploy): the e-mail and SMS gateways deliver, the sender is a real address
  and links point to the public site (`open137.deployment`). `manage.py check --deploy` fails on
  them; production already refused to start without them (open137/settings.py).
- `open137.E010` (always): OPEN137_SMS_BACKEND names a gateway that exists. A typo would otherwise
  show only when the worker tries to send the first SMS; production refuses to start on it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.utils.module_loading import import_string

from open137 import deployment


@register("open137", deploy=True)
def check_messages_deliverable(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    problems = deployment.message_problems(
        email_backend=settings.EMAIL_BACKEND,
        email_host=settings.EMAIL_HOST,
        from_email=settings.DEFAULT_FROM_EMAIL,
        sms_backend=settings.OPEN137_SMS_BACKEND,
        sms_url=settings.OPEN137_SMS_URL,
        sms_api_key=settings.OPEN137_SMS_API_KEY,
        public_url=settings.OPEN137_PUBLIC_URL,
        allowed_hosts=settings.ALLOWED_HOSTS,
    )
    return [Error(problem.message, hint=f"Set {problem.setting}.", id=problem.id) for problem in problems]


def sms_backend_problem() -> str | None:
    """Why OPEN137_SMS_BACKEND cannot send anything, or None. Only the class is loaded, never made."""
    from issues.outbox import SMS_BACKENDS

    name: str = settings.OPEN137_SMS_BACKEND
    if name in SMS_BACKENDS:
        return None
    if "." not in name:
        return (
            f"OPEN137_SMS_BACKEND={name!r} is neither a known gateway ({', '.join(sorted(SMS_BACKENDS))}) "
            "nor the dotted path of a class."
        )
    try:
        backend_class = import_string(name)
    except ImportError as exc:
        return f"OPEN137_SMS_BACKEND={name!r} cannot be imported: {exc}"
    if not callable(getattr(backend_class, "send", None)):
        return f"OPEN137_SMS_BACKEND={name!r} has no send(*, to, text) method."
    return None


@register("open137")
def check_sms_backend(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    problem = sms_backend_problem()
    return [Error(problem, id="open137.E010")] if problem else []
