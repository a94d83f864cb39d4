"""What a citizen does to a report after filing it: "me too", more information through the private
link, and whether the unit's work fixed the problem."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from issues import events
from issues.models import Channel, Report, ReportEvent, ReportSupport
from issues.services.submission import MAX_PHOTOS
from issues.validation import text_clean
from issues.workflow.citizen import CONFIRM_STATUSES, report_citizen_confirm
from issues.workflow.services import TransitionConflict


@transaction.atomic
def report_support(*, report: Report, fingerprint: str, channel: str = Channel.WEB) -> tuple[Report, bool]:
    """A "me too" on an open report; the same client counts once. Returns (report, whether added)."""
    if not report.is_open:
        raise ValidationError(_("This report is closed; it can no longer be supported."), code="closed")
    _support, added = ReportSupport.objects.get_or_create(
        report=report, fingerprint=fingerprint, defaults={"channel": channel}
    )
    if added:
        Report.objects.filter(pk=report.pk).update(support_count=F("support_count") + 1)
        events.support_event(report=report, channel=channel)
        report.refresh_from_db(fields=["support_count"])
    return report, added


# What the citizen can say through their private link. Information is welcome while the report is
# open; "fixed / not fixed" is asked once the unit says the work is done (or 137 has closed it).
CITIZEN_INFO_MAX = 4000
# Done by the unit, verified, closed, resolved by citizens: the workflow's own list.
FEEDBACK_STATUSES = CONFIRM_STATUSES


def report_add_info(*, report: Report, text: str, photos: Sequence[UploadedFile] = ()) -> ReportEvent:
    """The reporter adds information (text, photos) to their open report: a public note on the
    timeline, photos stored like the report's own."""
    from issues import photos as photo_store

    try:
        # The same rule as the report's own description: as typed (no HTML check), no NUL.
        text = text_clean(text=text or "", limit=CITIZEN_INFO_MAX)
    except ValidationError as exc:
        raise ValidationError({"text": exc.messages}, code=exc.code) from None
    if not report.is_open:
        raise ValidationError(
            {"text": [_("This report is closed; information can no longer be added.")]}, code="closed"
        )
    if not text and not photos:
        raise ValidationError({"text": [_("Write something or add a photo.")]}, code="empty")
    if len(photos) > MAX_PHOTOS:
        raise ValidationError({"photos": [_("At most %(n)d photos.") % {"n": MAX_PHOTOS}]})
    processed = [photo_store.photo_process(upload=upload) for upload in photos]
    with photo_store.photo_files_undone_on_error(), transaction.atomic():
        for photo in processed:
            photo_store.photo_save(report=report, photo=photo)
        report.save(update_fields=["updated_at"])
        return events.citizen_info_event(report=report, text=text, photo_count=len(processed))


@transaction.atomic
def report_citizen_feedback(*, report: Report, fixed: bool, note: str = "") -> ReportEvent:
    """The reporter says whether the unit's work fixed the problem, from the tracking page: the
    workflow's confirmation (issues/workflow/citizen.py: fixed -> verified and closed, not fixed ->
    reopened), whose public event on the timeline is returned. A report not (or no longer) in a
    state for it is a ValidationError here, an error on the page's form."""
    if report.status not in FEEDBACK_STATUSES:
        raise ValidationError(
            {"fixed": [_("You can say whether it is fixed once the unit reports the work as done.")]},
            code="not_done",
        )
    try:
        confirmation = report_citizen_confirm(report=report, fixed=fixed, note=(note or "").strip()[:1000])
    except TransitionConflict as exc:
        raise ValidationError({"fixed": [exc.message]}, code=exc.code) from None
    report.refresh_from_db()
    return confirmation.feedback_event
