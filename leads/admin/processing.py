"""The record of processing: what personal data Relocate holds for an employer, why, for how
long, who sees it, what erasure does and what the person's download contains.

Generated from the declarations the code itself runs on (``leads/profile.py`` for the profile,
``leads/services/data_export.OTHER_DATA`` for the rest) and the employer's own retention and
export settings, so that it describes what the code does and not what someone once wrote.
Served under the lead admin (``admin/leads/lead/processing-record/``): employer admins see
their employers, superusers every employer.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext, ngettext, pgettext
from django.views.decorators.http import require_GET

from leads import profile
from leads.admin.tenancy import member_employer_ids
from leads.models import Employer, Role
from leads.services.data_export import OTHER_DATA

_EMPLOYERS_SHOWN = 50


@dataclass(frozen=True)
class Row:
    label: str
    question: str
    purpose: str
    retention: str
    erasure: str
    visible_to: str
    in_download: str
    in_csv_export: str


@dataclass(frozen=True)
class EmployerRecord:
    employer: Employer
    retention: str
    admins: int
    recruiters: int
    fields: list[Row]
    other: list[Row]


def retention_text(employer: Employer) -> str:
    """The employer's retention settings as a sentence: when a lead is anonymised."""
    parts = []
    if employer.retain_closed_months:
        parts.append(ngettext("%(months)s month after it closed", "%(months)s months after it closed",
                              employer.retain_closed_months) % {"months": employer.retain_closed_months})
    if employer.retain_inactive_months:
        parts.append(ngettext("%(months)s month without activity", "%(months)s months without activity",
                              employer.retain_inactive_months) % {"months": employer.retain_inactive_months})
    if employer.retain_unsubscribed_months:
        parts.append(ngettext("%(months)s month after the person unsubscribed",
                              "%(months)s months after the person unsubscribed",
                              employer.retain_unsubscribed_months) % {"months": employer.retain_unsubscribed_months})
    if not parts:
        return gettext("Kept until erased by hand or at the person's request")
    return gettext("Anonymised %(periods)s") % {"periods": pgettext("between retention periods", "; or ").join(parts)}


def processing_employers(request: HttpRequest) -> QuerySet[Employer]:
    """The employers whose record the user may read: where they are an admin; every employer
    for a superuser. Nobody else (recruiters included) reads it."""
    employers = Employer.objects.order_by("name")
    if not request.user.is_superuser:
        employers = employers.filter(pk__in=member_employer_ids(request, Role.ADMIN))
    return employers.annotate(
        admins=Count("memberships", filter=Q(memberships__role=Role.ADMIN)),
        recruiters=Count("memberships", filter=Q(memberships__role=Role.RECRUITER)),
    )


def employer_record(employer: Employer) -> EmployerRecord:
    retention = retention_text(employer)
    kept = gettext("Kept, without the person's identity, once anonymised (%(retention)s)") % {
        "retention": retention.lower()}
    until = gettext("Until anonymised: %(retention)s") % {"retention": f"{retention[0].lower()}{retention[1:]}"}
    yes, no = gettext("Yes"), gettext("No")
    fields = [
        Row(label=str(spec.label), question=str(spec.applicant_label), purpose=spec.purpose,
            retention=until if spec.erased else kept,
            erasure=gettext("Cleared") if spec.erased else gettext("Kept, without the person's identity"),
            visible_to=str(spec.visible_to), in_download=yes,
            in_csv_export=yes if spec.exported else no)
        for spec in (profile.BY_NAME[name] for name in profile.PERSONAL_FIELDS)
    ]
    other = []
    for held in OTHER_DATA:
        exported = held.exported or (held.with_notes and employer.data_export_includes_notes)
        answer = yes if exported else no
        if not held.with_notes:
            in_download = answer
        elif employer.data_export_includes_notes:
            in_download = gettext("%(answer)s (the employer's choice: “data export includes notes” is on)") % {
                "answer": answer}
        else:
            in_download = gettext("%(answer)s (the employer's choice: “data export includes notes” is off)") % {
                "answer": answer}
        other.append(Row(label=str(held.label), question="", purpose=str(held.purpose),
                         retention=kept if held.kept else until, erasure=str(held.erasure),
                         visible_to=str(profile.RECRUITERS_AND_ADMINS), in_download=in_download, in_csv_export=""))
    return EmployerRecord(employer=employer, retention=retention, admins=employer.admins,
                          recruiters=employer.recruiters, fields=fields, other=other)


@require_GET
def processing_record_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    employers = list(processing_employers(request)[:_EMPLOYERS_SHOWN + 1])
    if not employers:
        raise PermissionDenied
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": gettext("Record of processing"),
        "records": [employer_record(e) for e in employers[:_EMPLOYERS_SHOWN]],
        "more": len(employers) > _EMPLOYERS_SHOWN,
    }
    return TemplateResponse(request, "admin/leads/processing_record.html", context)
