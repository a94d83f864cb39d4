"""API-wide error shape: every error is JSON with a human message, never an HTML page or a 500."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # Services raise Django's ValidationError; to a client that is a 400 with the same messages.
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            detail: Any = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
            message = "; ".join(f"{k}: {' '.join(v)}" for k, v in detail.items())
        else:
            detail = [str(m) for m in exc.messages]
            message = " ".join(detail)
        return Response({"error": message, "detail": detail}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "error" not in response.data:
        data = response.data
        message = (
            _text(data["detail"])
            if "detail" in data
            else "; ".join(f"{k}: {_text(v)}" for k, v in data.items())
        )
        response.data = {"error": str(message), "detail": data}
    return response


def _text(value: Any) -> str:
    """DRF's error details (lists and dicts of ErrorDetail) as the plain sentences they hold."""
    if isinstance(value, list | tuple):
        return " ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)
