"""Atom feeds of the newest reports: the whole city, a district (by code, its sub-districts
included) or a category. Public fields only: tracking code, category, status, district, when,
the description (as text: escaped, so markup someone typed shows as characters in any reader) and
the link to the tracking page. Generated (demo) reports say so in their title and category.

A feed reader asks every few minutes: the answer carries Last-Modified (the newest change among
the entries), an ETag of its bytes (304 when unchanged) and Cache-Control for shared caches.
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import datetime
from typing import Any

from django.contrib.syndication.views import Feed
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.feedgenerator import Atom1Feed
from django.utils.http import parse_http_date_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from alerts.selectors import category_public_get, district_active_get, feed_reports
from issues.models import ReportStatus
from issues.selectors import report_tracking_url
from issues.workflow.sla import jalali_format

FEED_MAX_AGE_S = 120
_PLACEHOLDER = "TRACKINGCODE"

# Characters XML 1.0 cannot hold. A description may carry them (a terminal escape, a backspace
# pasted from somewhere: only NUL is refused at the door), and so may a name from an import; one of
# them in any entry made every feed it appears in a 500 (Django refuses to write it) or, for U+FFFE,
# a document no reader parses. They are dropped from everything the feed writes.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("", text)


def _en() -> bool:
    return (get_language() or "fa").startswith("en")


def _name(row: dict[str, Any], prefix: str) -> str:
    fa, en = row.get(f"{prefix}name_fa") or "", row.get(f"{prefix}name_en") or ""
    return (en or fa) if _en() else fa


class ReportsFeed(Feed):
    feed_type = Atom1Feed
    author_name = "137"

    def get_object(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"kind": "all", "title": _("New reports in the city"), "rows": feed_reports()}

    def title(self, obj: dict[str, Any]) -> str:
        return _xml(f"{_('137 Qazvin')}: {obj['title']}")

    def subtitle(self, obj: dict[str, Any]) -> str:
        return _("The newest reports, with a link to follow each one.")

    def link(self, obj: dict[str, Any]) -> str:
        return reverse("alerts:subscribe")

    def items(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        # One reverse() per feed rather than per entry (codes are ASCII letters and digits).
        track = report_tracking_url(code=_PLACEHOLDER)
        return [{**row, "link": track.replace(_PLACEHOLDER, row["tracking_code"])} for row in obj["rows"]]

    def item_title(self, item: dict[str, Any]) -> str:
        status = (
            str(ReportStatus(item["status"]).label)
            if item["status"] in ReportStatus.values
            else item["status"]
        )
        title = f"{item['tracking_code']} · {_name(item, 'category_')} · {status}"
        if item["generated"]:
            title = f"[{_('generated demo data')}] {title}"
        return _xml(title)

    def item_description(self, item: dict[str, Any]) -> str:
        # Atom's summary is HTML: every value is escaped here, so a description reading
        # "<script>" is those characters to the reader, never markup.
        facts = [
            f"{_('Category')}: {_name(item, 'category_')}",
            f"{_('District')}: {_name(item, 'district_') or '-'}",
            f"{_('Received')}: {jalali_format(item['created_at'], lang='en' if _en() else 'fa')}",
        ]
        if item["generated"]:
            facts.append(_("Generated demo data, not a citizen's report."))
        text = " ".join((item["description"] or "").split())
        parts = [f"<p>{html.escape(text)}</p>"] if text else []
        parts.append("<p>" + "<br>".join(html.escape(f) for f in facts) + "</p>")
        return _xml("".join(parts))

    def item_link(self, item: dict[str, Any]) -> str:
        return str(item["link"])

    def item_guid(self, item: dict[str, Any]) -> str:
        return f"tag:137,report:{item['tracking_code']}"

    item_guid_is_permalink = False

    def item_pubdate(self, item: dict[str, Any]) -> datetime:
        return item["created_at"]

    def item_updateddate(self, item: dict[str, Any]) -> datetime:
        return item["updated_at"]

    def item_categories(self, item: dict[str, Any]) -> list[str]:
        labels = [item["category_code"], item["status"]]
        if item["district_code"]:
            labels.append(f"district:{item['district_code']}")
        if item["generated"]:
            labels.append("generated")
        return labels


class DistrictFeed(ReportsFeed):
    def get_object(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        district = district_active_get(code=kwargs["code"])
        if district is None:
            raise Http404(_("No district has this code."))
        return {
            "kind": "district",
            "title": _("New reports in %(name)s") % {"name": _name(district, "")},
            "rows": feed_reports(district_code=district["code"]),
        }


class CategoryFeed(ReportsFeed):
    def get_object(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        category = category_public_get(code=kwargs["code"])
        if category is None:
            raise Http404(_("No category has this code."))
        return {
            "kind": "category",
            "title": _("New reports: %(name)s") % {"name": _name(category, "")},
            "rows": feed_reports(category_id=category["id"]),
        }


def _cached(feed: Feed) -> Any:
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        response = feed(request, **kwargs)
        etag = '"' + hashlib.sha256(response.content).hexdigest()[:32] + '"'
        response["ETag"] = etag
        patch_cache_control(response, public=True, max_age=FEED_MAX_AGE_S)
        patch_vary_headers(response, ["Cookie", "Accept-Language"])
        last_modified = parse_http_date_safe(response.get("Last-Modified", ""))
        conditional = get_conditional_response(
            request, etag=etag, last_modified=last_modified, response=response
        )
        return conditional if conditional is not None else response

    return view


all_feed = _cached(ReportsFeed())
district_feed = _cached(DistrictFeed())
category_feed = _cached(CategoryFeed())
