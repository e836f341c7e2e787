"""The team page of employer admins (/team/) and the invitation link (/team/invite/<token>/).

Only an employer's admins (and superusers) manage its team; anyone else gets 404. A membership of
an employer the user does not administer is 404 too, whatever the action.
"""

from __future__ import annotations

import dataclasses
import itertools

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from leads.forms.team import InviteAcceptForm, InviteForm, RoleForm, RoundRobinForm
from leads.models import Employer, Lead, Membership, Role, display_name
from leads.services import team as service
from leads.views.common import recruiter_view


def _administered(request: HttpRequest) -> list[Employer]:
    """The employers whose team this user manages (request.employers is loaded already), else 404."""
    if request.user.is_superuser:
        employers = request.employers
    else:
        ids = set(
            Membership.objects.filter(user_id=request.user.pk, role=Role.ADMIN).values_list("employer_id", flat=True)
        )
        employers = [e for e in request.employers if e.pk in ids]
    if not employers:
        raise Http404("Only an employer's admins manage its team.")
    return employers


def _membership_or_404(request: HttpRequest, membership_id: int) -> Membership:
    employers = _administered(request)
    try:
        return Membership.objects.select_related("user", "employer").get(
            pk=membership_id, employer_id__in=[e.pk for e in employers]
        )
    except (Membership.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such member.") from exc


@dataclasses.dataclass
class Section:
    employer: Employer
    members: list[Membership]
    invite_form: InviteForm
    former_owners: list[tuple[object, list[Lead]]]


def _page(request: HttpRequest, employers: list[Employer], *, invite_form: InviteForm | None = None,
          status: int = 200) -> HttpResponse:
    ids = [e.pk for e in employers]
    members = {k: list(g) for k, g in itertools.groupby(service.team_members(ids), key=lambda m: m.employer_id)}
    former = service.leads_of_former_members(ids)
    more_former = len(former) > service.FORMER_OWNER_LEADS_SHOWN
    by_employer: dict[int, list[tuple[object, list[Lead]]]] = {}
    for (employer_id, _), group in itertools.groupby(former[: service.FORMER_OWNER_LEADS_SHOWN],
                                                     key=lambda lead: (lead.employer_id, lead.owner_id)):
        leads = list(group)
        by_employer.setdefault(employer_id, []).append((leads[0].owner, leads))
    sections = []
    for employer in employers:
        form = invite_form if invite_form is not None and invite_form.data.get("employer") == str(employer.pk) else (
            InviteForm(employers=employers, initial={"employer": employer.pk}, auto_id=f"id_invite_{employer.pk}_%s")
        )
        sections.append(Section(employer, members.get(employer.pk, []), form, by_employer.get(employer.pk, [])))
    context = {"sections": sections, "more_former": more_former, "roles": Role.choices,
               "invite_days": service.invite_days(), "former_limit": service.FORMER_OWNER_LEADS_SHOWN}
    return render(request, "team/team.html", context, status=status)


def _refused(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    messages.error(request, " ".join(exc.messages))
    status = 429 if getattr(exc, "code", None) == "rate_limited" else 400
    return _page(request, _administered(request), status=status)


def _form_refused(request: HttpRequest, form) -> HttpResponse:
    for field, errors in form.errors.items():
        bound = form.fields.get(field)
        label = (bound.label or field.replace("_", " ").capitalize()) if bound else ""
        messages.error(request, gettext("%(field)s: %(error)s") % {"field": label, "error": " ".join(errors)}
                       if label else " ".join(errors))
    return _page(request, _administered(request), status=400)


@require_http_methods(["GET"])
@recruiter_view
def team(request: HttpRequest) -> HttpResponse:
    return _page(request, _administered(request))


@require_POST
@recruiter_view
def team_invite(request: HttpRequest) -> HttpResponse:
    employers = _administered(request)
    posted = "".join(c for c in request.POST.get("employer", "")[:12] if c.isdigit())
    form = InviteForm(request.POST, employers=employers, auto_id=f"id_invite_{posted}_%s")
    if not form.is_valid():
        if "employer" in form.errors:
            # No form on the page shows this one's errors: say it above them all.
            messages.error(request, gettext("Choose an employer whose team you manage."))
        else:
            messages.error(request, gettext("The invitation was not sent: see the form below."))
        return _page(request, employers, invite_form=form, status=400)
    data = form.cleaned_data
    try:
        result = service.team_invite(employer=form.employers[data["employer"]], email=data["email"],
                                     role=data["role"], by=request.user, first_name=data["first_name"],
                                     last_name=data["last_name"])
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        messages.error(request, " ".join(exc.messages))
        status = 429 if getattr(exc, "code", None) == "rate_limited" else 400
        return _page(request, employers, invite_form=form, status=status)
    membership = result.membership
    if result.link_sent:
        messages.success(request, gettext("Invitation sent to %(email)s: the link to set a password works for "
                                          "%(days)s days.") % {"email": membership.user.email,
                                                               "days": service.invite_days()})
    else:
        messages.success(request, gettext("%(name)s already has an account and is now on the team of %(employer)s; "
                                          "they were told by email.") % {"name": display_name(membership.user),
                                                                         "employer": membership.employer.name})
    return redirect("leads:team")


@require_POST
@recruiter_view
def team_invite_resend(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _membership_or_404(request, membership_id)
    try:
        service.team_invite_resend(membership=membership, by=request.user)
    except ValidationError as exc:
        return _refused(request, exc)
    messages.success(request, gettext("A new invitation link was sent to %(email)s.")
                     % {"email": membership.user.email})
    return redirect("leads:team")


@require_POST
@recruiter_view
def team_member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _membership_or_404(request, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _form_refused(request, form)
    try:
        changed = service.team_member_set_role(membership=membership, role=form.cleaned_data["role"], by=request.user)
    except ValidationError as exc:
        return _refused(request, exc)
    values = {"name": display_name(membership.user), "employer": membership.employer.name}
    admin = membership.role == Role.ADMIN
    if changed:
        text = (gettext("%(name)s is now an admin of %(employer)s.") if admin
                else gettext("%(name)s is now a recruiter of %(employer)s."))
    else:
        text = gettext("%(name)s was already an admin.") if admin else gettext("%(name)s was already a recruiter.")
    messages.success(request, text % values)
    return redirect("leads:team")


@require_POST
@recruiter_view
def team_member_round_robin(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _membership_or_404(request, membership_id)
    form = RoundRobinForm(request.POST)
    if not form.is_valid():
        return _form_refused(request, form)
    on = form.cleaned_data["receives_assignments"]
    try:
        service.team_member_set_round_robin(membership=membership, on=on, by=request.user)
    except ValidationError as exc:
        return _refused(request, exc)
    text = gettext("%(name)s now takes turns for new leads.") if on else gettext(
        "%(name)s no longer gets new leads by round-robin.")
    messages.success(request, text % {"name": display_name(membership.user)})
    return redirect("leads:team")


@require_POST
@recruiter_view
def team_member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _membership_or_404(request, membership_id)
    try:
        result = service.team_member_remove(membership=membership, by=request.user)
    except ValidationError as exc:
        return _refused(request, exc)
    values = {"name": display_name(membership.user), "employer": membership.employer.name,
              "leads": result.open_leads, "tasks": result.open_tasks}
    if result.user_deactivated:
        text = gettext("%(name)s was removed from the team of %(employer)s; their account is switched off.")
    else:
        text = gettext("%(name)s was removed from the team of %(employer)s; their account stays on for the other "
                       "employers they work for.")
    text = text % values
    if result.open_leads or result.open_tasks:
        text += " " + gettext("They still own %(leads)s open lead(s) and %(tasks)s open task(s) at %(employer)s: "
                              "give them a new owner (listed below under “Leads that need a new owner”).") % values
    messages.success(request, text)
    return redirect("leads:team")


@never_cache
@require_http_methods(["GET", "POST"])
def team_invite_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The link of an invitation email: set a password, and be logged in."""
    reading = service.invite_read(token)
    if not reading.valid:
        status = 404 if reading.problem == "invalid" else 410
        return render(request, "team/invite_invalid.html", {"reading": reading}, status=status)
    form = InviteAcceptForm(reading.user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            user = service.team_invite_accept(token=token, password=form.cleaned_data["new_password1"])
        except ValidationError:
            return render(request, "team/invite_invalid.html",
                          {"reading": service.InviteReading("used")}, status=410)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, gettext("Welcome to Relocate, %(name)s: your password is set.")
                         % {"name": display_name(user)})
        return redirect("leads:dashboard")
    context = {"form": form, "invited": reading.user, "employer": reading.employer}
    return render(request, "team/invite_accept.html", context, status=400 if form.errors else 200)
