"""The alert pages: subscribe (a district, a category or a point and radius on a small map), the
"check your messages" page, and the confirmation and stop links. Plain HTML forms; the map is an aid
(alerts/static/alerts/subscribe.js, its settings from json_script, no inline script)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from alerts.forms import SubscribeForm
from alerts.models import RADIUS_MAX_M, RADIUS_MIN_M
from alerts.services import ContactLimitReached, subscription_confirm, subscription_request, subscription_stop
from alerts.throttling import AlertSubscribeThrottle
from districts.selectors import district_names
from issues.selectors import category_list_public
from issues.throttling import throttle_wait


def _choices() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    english = (get_language() or "fa").startswith("en")
    districts = [(code, (en or fa) if english else fa) for code, fa, en in district_names()]
    categories = [
        (c["code"], (c["name_en"] or c["name_fa"]) if english else c["name_fa"])
        for c in category_list_public()
    ]
    return districts, categories


def _map_config() -> dict[str, object]:
    leaflet: dict[str, Any] = settings.LEAFLET_CONFIG
    lat, lon = leaflet["DEFAULT_CENTER"]
    return {
        "center": [lat, lon],
        "zoom": leaflet["DEFAULT_ZOOM"],
        "tiles": settings.OPEN137_TILE_URL,
        "attribution": settings.OPEN137_TILE_ATTRIBUTION,
        "radiusMin": RADIUS_MIN_M,
        "radiusMax": RADIUS_MAX_M,
        "strings": {
            "placed": _("Point chosen. Tap elsewhere to move it."),
            "none": _("No point chosen: tap the map to choose one."),
        },
    }


@never_cache
@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    districts, categories = _choices()
    status = 200
    retry_after: int | None = None
    if request.method == "POST":
        form = SubscribeForm(request.POST, districts=districts, categories=categories)
        retry_after = throttle_wait(request, AlertSubscribeThrottle())
        if retry_after is not None:
            form.refuse(
                _("Too many subscription requests from your address. Try again in %(minutes)d minutes.")
                % {"minutes": max(1, round(retry_after / 60))}
            )
            status = 429
        elif form.is_valid():
            data = form.cleaned_data
            try:
                subscription_request(
                    email=data["email"],
                    phone=data["phone"],
                    language=data["language"] or (get_language() or "fa")[:2],
                    district_code=data["district"],
                    category_code=data["category"],
                    lat=data["lat"],
                    lon=data["lon"],
                    radius_m=data["radius_m"],
                    via="web",
                )
            except ValidationError as exc:
                form.service_errors(exc.message_dict)
                status = 400
            except ContactLimitReached as exc:
                retry_after = exc.retry_after
                form.refuse(
                    _("Too many confirmation messages were sent to this contact today. Try again tomorrow.")
                )
                status = 429
            else:
                return redirect("alerts:sent")
        else:
            status = 400
    else:
        form = SubscribeForm(
            initial={"language": (get_language() or "fa")[:2], "radius_m": 500},
            districts=districts,
            categories=categories,
        )
    response = render(
        request,
        "alerts/subscribe.html",
        {"form": form, "map_config": _map_config(), "radius_min": RADIUS_MIN_M, "radius_max": RADIUS_MAX_M},
        status=status,
    )
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


@require_GET
def sent(request: HttpRequest) -> HttpResponse:
    return render(request, "alerts/sent.html")


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest) -> HttpResponse:
    """The confirmation link. Opening it shows a button; the POST confirms (a mail scanner that
    fetches every link does not subscribe anyone by itself)."""
    token = request.POST.get("t") if request.method == "POST" else request.GET.get("t")
    if request.method == "GET":
        return render(request, "alerts/link.html", {"step": "confirm_ask", "token": token or ""})
    outcome = subscription_confirm(token=token, via="link")
    if outcome is None:
        return render(request, "alerts/link.html", {"step": "invalid"}, status=404)
    step = "confirmed" if outcome.subscription.status == "active" else "was_stopped"
    return render(request, "alerts/link.html", {"step": step})


@never_cache
@require_http_methods(["GET", "POST"])
def stop(request: HttpRequest) -> HttpResponse:
    """The stop link in every message: one click ends the subscription (GET, or POST from a
    mail client's one-click unsubscribe)."""
    token = request.POST.get("t") if request.method == "POST" else request.GET.get("t")
    outcome = subscription_stop(token=token, via="link")
    if outcome is None:
        # Unknown, or older than OPEN137_ALERT_LINK_DAYS (alerts/pruning.py): the latest message's
        # link always works while alerts still come.
        return render(request, "alerts/link.html", {"step": "stop_invalid"}, status=404)
    return render(request, "alerts/link.html", {"step": "stopped"})
