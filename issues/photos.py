"""Photo handling for reports (to be completed: decoding, orientation, resizing, metadata stripping)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.uploadedfile import UploadedFile

from issues.models import Report


@dataclass(frozen=True)
class ProcessedPhoto:
    content: bytes
    width: int
    height: int
    gps: tuple[float, float] | None  # (lat, lon) from EXIF, before it was stripped


def photo_process(*, upload: UploadedFile) -> ProcessedPhoto:
    raise NotImplementedError


def photo_save(*, report: Report, photo: ProcessedPhoto) -> None:
    raise NotImplementedError
