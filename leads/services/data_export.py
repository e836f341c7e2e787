"""A person's copy of what an employer holds about them: one ZIP with ``data.json`` and their
files, downloaded by the person from their my-data link or by an employer admin for them.

What goes in is declared, not picked by hand: every profile field that ``leads/profile.py``
marks ``personal``, and the other personal data held, ``OTHER_DATA`` below. The record of
processing (``leads/admin/processing.py``) reads the same two declarations, so the page that
says what is held and the download that hands it over cannot drift apart.

Built in memory: the size is checked with the database's own sums before anything is read, so
that a lead with a runaway thread of messages answers "too large" instead of filling the
worker's memory. Run outside any transaction: reading the CV from storage holds no row locks.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from typing import Any

from django.db.models import Sum
from django.db.models.functions import Coalesce, Length
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from leads import profile
from leads.models import (
    Activity,
    Consent,
    Inquiry,
    Lead,
    Note,
    OutboundEmail,
    OutboundStatus,
    ProfileChange,
    StageEvent,
)

# A CV is at most 5 MB; the messages of a long conversation are a few hundred kB.
EXPORT_MAX_BYTES = 25 * 1024 * 1024
_ROWS_MAX = 5_000  # per kind of row: far beyond any real conversation, and a bound on the queries


@dataclass(frozen=True)
class Held:
    """Personal data held beside the profile's fields, for the download and the record of processing.

    The texts are kept in English (marked for translation) and read in the current language."""

    key: str  # its key in data.json
    label_text: str
    purpose_text: str
    erasure_text: str  # what erasing the person's data does with it
    exported: bool = True  # in the person's download
    with_notes: bool = False  # in it when the employer's download includes recruiters' notes
    kept: bool = False  # outlives the erasure (anonymous, or proof of a consent)

    @property
    def label(self) -> str:
        return gettext(self.label_text)

    @property
    def purpose(self) -> str:
        return gettext(self.purpose_text)

    @property
    def erasure(self) -> str:
        return gettext(self.erasure_text)


OTHER_DATA: tuple[Held, ...] = (
    Held("name", gettext_noop("Name"),
         gettext_noop("Addressing the person"),
         gettext_noop("Replaced by “Erased”")),
    Held("email", gettext_noop("Email address"),
         gettext_noop("Answering the inquiry; the person's identity in Relocate"),
         gettext_noop("Replaced by an undeliverable address")),
    Held("citizenships", gettext_noop("Citizenships"),
         gettext_noop("Planning the visa the move needs"),
         gettext_noop("Kept, without the person's identity"), kept=True),
    Held("skills", gettext_noop("Skills"),
         gettext_noop("Matching the person to openings"),
         gettext_noop("Cleared")),
    Held("consents", gettext_noop("Consents (purpose, the wording shown, when, the channel)"),
         gettext_noop("Proving consent to handling the inquiry and to news"),
         gettext_noop("Kept as proof, without the IP address"), kept=True),
    Held("inquiries", gettext_noop("Messages the person sent (subject and text, channel, when)"),
         gettext_noop("Handling the person's inquiry"),
         gettext_noop("Subject, text and form fields cleared")),
    Held("emails", gettext_noop("Emails sent to the person (kind, subject, text, when)"),
         gettext_noop("Answering and following up the inquiry"),
         gettext_noop("Subject and text cleared; unsent ones cancelled")),
    Held("stage_history", gettext_noop("Stage history (how far the inquiry went, when)"),
         gettext_noop("Handling the inquiry; the funnel statistics"),
         gettext_noop("Kept, without the person's identity"), kept=True),
    Held("profile_changes", gettext_noop("Earlier answers (each change of a profile field, old and new value)"),
         gettext_noop("Showing recruiters what changed, and restoring an answer"),
         gettext_noop("Values cleared")),
    Held("notes", gettext_noop("Recruiters' notes about the person"),
         gettext_noop("Handling the inquiry"),
         gettext_noop("Deleted"), exported=False, with_notes=True),
    Held("timeline", gettext_noop("Timeline (calls, meetings, messages, events, with recruiters' summaries)"),
         gettext_noop("Handling the inquiry"),
         gettext_noop("Summaries and details cleared"), exported=False, with_notes=True),
    Held("files", gettext_noop("Files the person sent (the CV)"),
         gettext_noop("Assessing the person for an opening"),
         gettext_noop("Deleted")),
    Held("ip_addresses", gettext_noop("IP addresses (of web form inquiries and consents)"),
         gettext_noop("Protecting the form from abuse"),
         gettext_noop("Cleared")),
    Held("submissions", gettext_noop("The web form's copy of each inquiry (the same answers as above)"),
         gettext_noop("Receiving the form reliably before the inquiry is recorded"),
         gettext_noop("Cleared"), exported=False),
)


class DataExportTooLarge(Exception):
    """The person's data is over EXPORT_MAX_BYTES: the employer sends it another way."""


@dataclass(frozen=True)
class DataExport:
    filename: str
    content: bytes


def notes_exported(lead: Lead) -> bool:
    return bool(lead.employer.data_export_includes_notes)


def lead_data_export(*, lead: Lead, max_bytes: int = EXPORT_MAX_BYTES) -> DataExport:
    """The ZIP of everything held about the lead's person at its employer. Raises
    DataExportTooLarge before reading anything big when it would exceed ``max_bytes``."""
    lead = Lead.objects.select_related("employer", "opening").get(pk=lead.pk)
    cv_size = _cv_size(lead)
    if _text_size(lead) + (cv_size or 0) > max_bytes:
        raise DataExportTooLarge(gettext("The data is over %(size)s MB.") % {"size": max_bytes // (1024 * 1024)})
    cv_path = f"files/{os.path.basename(lead.cv.name)}" if cv_size is not None else ""
    data = _data(lead, cv_path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(data, ensure_ascii=False, indent=2))
        if cv_path:
            with lead.cv.open("rb") as source, archive.open(cv_path, "w") as target:
                for chunk in iter(lambda: source.read(64 * 1024), b""):
                    target.write(chunk)
    return DataExport(filename=f"my-data-{lead.employer.slug}.zip", content=buffer.getvalue())


def data_export_response(export: DataExport) -> HttpResponse:
    response = HttpResponse(export.content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _cv_size(lead: Lead) -> int | None:
    """The CV's size; None when there is none, or its file is gone (the rest still downloads)."""
    if not lead.cv:
        return None
    try:
        return lead.cv.size
    except OSError:
        return None


def _text_size(lead: Lead) -> int:
    """Characters of the long texts, summed by the database (a character is at most 4 bytes
    in UTF-8; JSON escapes add little beside that)."""

    def total(queryset, *columns: str) -> int:
        sums = {c: Coalesce(Sum(Length(c)), 0) for c in columns}
        return sum(queryset.aggregate(**sums).values())

    chars = (total(Inquiry.objects.filter(lead=lead), "subject", "body")
             + total(_emails_to(lead), "subject", "body_text"))
    if notes_exported(lead):
        chars += total(Note.objects.filter(lead=lead), "body") + total(Activity.objects.filter(lead=lead), "details")
    return chars * 4


def _emails_to(lead: Lead):
    """Emails sent to the person; not the notifications about them sent to recruiters."""
    return OutboundEmail.objects.filter(lead=lead, to_user__isnull=True, status=OutboundStatus.SENT)


def _when(value: Any) -> str | None:
    return value.isoformat() if value else None


def _data(lead: Lead, cv_path: str) -> dict[str, Any]:
    include_notes = notes_exported(lead)
    data: dict[str, Any] = {
        "employer": lead.employer.name,
        "exported_at": timezone.now().isoformat(),
        "name": lead.name,
        "email": lead.email,
        "profile": {name: _profile_value(lead, name, cv_path) for name in profile.PERSONAL_FIELDS},
        "citizenships": sorted(str(c.country.code) for c in lead.citizenships.all()),
        "skills": sorted(lead.skills.values_list("name", flat=True)),
        "consents": [
            {"purpose": c.get_purpose_display(), "granted": c.granted, "wording": c.wording,
             "policy_version": c.policy.version if c.policy else None, "channel": c.channel, "at": _when(c.at),
             "ip_address": c.remote_addr}
            for c in Consent.objects.filter(lead=lead).select_related("policy").order_by("at", "id")[:_ROWS_MAX]
        ],
        "inquiries": [
            {"received_at": _when(i.received_at), "channel": i.get_channel_display(), "subject": i.subject,
             "body": i.body, "ip_address": i.remote_addr}
            for i in Inquiry.objects.filter(lead=lead).order_by("received_at", "id")[:_ROWS_MAX]
        ],
        "emails": [
            {"kind": e.get_kind_display(), "subject": e.subject, "sent_at": _when(e.sent_at), "body_text": e.body_text}
            for e in _emails_to(lead).order_by("sent_at", "id")
            [:_ROWS_MAX]
        ],
        "stage_history": [
            {"to_stage": e.get_to_stage_display(), "at": _when(e.at)}
            for e in StageEvent.objects.filter(lead=lead).order_by("at", "id")[:_ROWS_MAX]
        ],
        "profile_changes": [
            {"at": _when(c.at), "field": str(profile.BY_NAME[c.field].applicant_label), "old_value": c.old_value,
             "new_value": c.new_value, "status": c.get_status_display()}
            for c in ProfileChange.objects.filter(lead=lead, field__in=profile.PERSONAL_FIELDS)
            .order_by("at", "id")[:_ROWS_MAX]
        ],
        "notes_included": include_notes,
        "files": [cv_path] if cv_path else [],
    }
    if include_notes:
        data["notes"] = [{"at": _when(n.created_at), "body": n.body}
                         for n in Note.objects.filter(lead=lead).order_by("created_at", "id")[:_ROWS_MAX]]
        data["timeline"] = [{"at": _when(a.at), "kind": a.get_kind_display(), "summary": a.summary,
                             "details": a.details}
                            for a in Activity.objects.filter(lead=lead).order_by("at", "id")[:_ROWS_MAX]]
    return data


def _profile_value(lead: Lead, name: str, cv_path: str) -> dict[str, Any]:
    spec = profile.BY_NAME[name]
    value = profile.lead_value(lead, name)
    if spec.kind is profile.Kind.FILE:
        shown: Any = cv_path or None
    else:
        shown = profile.as_json(name, value)
    entry: dict[str, Any] = {"question": str(spec.applicant_label), "value": shown}
    text = profile.as_label(name, value) if spec.kind in (profile.Kind.CHOICE, profile.Kind.COUNTRY) else ""
    if text and text != shown:
        entry["text"] = text
    return entry
