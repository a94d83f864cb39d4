"""A processed photo stored under MEDIA_ROOT with its ReportPhoto row, and the files written in a
block deleted again if the block fails."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from issues.models import Report, ReportPhoto
from issues.photos.process import ProcessedPhoto


def photo_save(*, report: Report, photo: ProcessedPhoto, kind: str = ReportPhoto.Kind.REPORT) -> ReportPhoto:
    """Store a processed photo of a report under MEDIA_ROOT with a random name (the citizen's file
    name may itself say who they are). Inside photo_files_undone_on_error, the file is deleted again
    if the block fails."""
    stored = ReportPhoto(report=report, kind=kind)
    stored.image.save(f"{uuid.uuid4().hex}.jpg", ContentFile(photo.content), save=False)
    written = _WRITTEN.get()
    if written is not None and stored.image.name:
        written.append(stored.image.name)
    # Known already: set after the file, whose assignment would otherwise reopen it to measure.
    stored.width, stored.height = photo.width, photo.height
    stored.save()
    return stored


# The files photo_save wrote in the innermost photo_files_undone_on_error block, if any.
_WRITTEN: ContextVar[list[str] | None] = ContextVar("photo_files_written", default=None)


@contextmanager
def photo_files_undone_on_error() -> Iterator[None]:
    """Wrap the transaction that records photos (put it inside the block, so that a failed COMMIT is
    caught too): if the block raises, the photo files written in it are deleted, so a refused or
    failed submission leaves no citizen's photo on disk that no report points to. Blocks nest: what
    an inner block kept is deleted if an outer one fails (a savepoint's rows go with the outer
    transaction)."""
    outer = _WRITTEN.get()
    written: list[str] = []
    token = _WRITTEN.set(written)
    try:
        yield
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise
    finally:
        _WRITTEN.reset(token)
    if outer is not None:
        outer.extend(written)
