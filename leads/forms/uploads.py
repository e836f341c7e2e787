"""Uploaded CVs: the real file type from the first bytes, a size limit, and a name of ours."""

from __future__ import annotations

import os
import uuid
import zipfile

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext

CV_MAX_BYTES = 5 * 1024 * 1024


def _sniff_cv(head: bytes, upload: UploadedFile) -> str | None:
    """The real type of an uploaded CV from its first bytes, or None when it is not one we take."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(bytes.fromhex("D0CF11E0A1B11AE1")):
        return "doc"
    if head.startswith(b"PK\x03\x04"):
        try:
            upload.seek(0)
            with zipfile.ZipFile(upload) as archive:
                # Reading the directory only: a zip bomb is never decompressed here.
                return "docx" if "word/document.xml" in archive.namelist() else None
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
    return None


def clean_cv_upload(upload: UploadedFile | None) -> UploadedFile | None:
    """A CV must be a real PDF, DOC or DOCX of at most 5 MB; it is stored under a random name."""
    if not upload:
        return None
    if upload.size > CV_MAX_BYTES:
        raise ValidationError(gettext("The CV is larger than 5 MB. Please upload a smaller file."))
    extension = os.path.splitext(upload.name or "")[1].lower().lstrip(".")
    if extension not in {"pdf", "doc", "docx"}:
        raise ValidationError(gettext("Upload the CV as a PDF, DOC or DOCX file."))
    upload.seek(0)
    kind = _sniff_cv(upload.read(8), upload)
    upload.seek(0)
    if kind != extension:
        raise ValidationError(gettext("This file is not a real PDF, DOC or DOCX document."))
    # The person's file name may hold anything; the stored name is ours.
    upload.name = f"{uuid.uuid4().hex}.{kind}"
    return upload
