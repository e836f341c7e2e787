"""Tasks: the recruiter's list at /tasks/, and adding, completing, snoozing and reassigning one.

Each action: login, the lead or task of the user's employers or 404, one service call, a
redirect back (to the lead's page or the list, from ``next``). Bad input is the form again
with the error, answered 400, and nothing changes.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from leads.forms.filters import member_choices
from leads.forms.next_steps import QuickTaskForm, ReassignForm, SnoozeForm, TaskForm
from leads.models import Task, display_name
from leads.selectors.next_steps import owners_by_employer, task_for_action, tasks_grouped
from leads.services.next_steps import task_add, task_add_quick, task_done, task_reassign, task_snooze
from leads.views.common import lead_or_404, recruiter_view, safe_next


def _task_or_404(request: HttpRequest, task_pk) -> Task:
    task = task_for_action(request.employer_ids, task_pk)
    if task is None:
        raise Http404("No such task.")
    return task


def _back(request: HttpRequest, lead_id: int) -> HttpResponse:
    return redirect(safe_next(request, reverse("leads:lead_detail", args=[lead_id])))


def _refused(request: HttpRequest, *, lead, form, action: str, task: Task | None = None,
             owners: list[tuple[str, str]] | None = None) -> HttpResponse:
    """The form again with what was wrong with it, and nothing saved. A boosted form (htmx
    swaps no 4xx page) goes back where it was, with the errors as messages."""
    if request.htmx:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return HttpResponseClientRedirect(safe_next(request, reverse("leads:lead_detail", args=[lead.pk])))
    owners = owners if owners is not None else member_choices([lead.employer_id])
    if task is not None:
        task.owner_choices, task.overdue = owners, task.due_at < timezone.now()
    context = {"lead": lead, "task": task, "form": form, "action": action, "next": safe_next(request, ""),
               "owners": owners}
    return render(request, "leads/_task_page.html", context, status=400)


def _add_service_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# --- The list ---------------------------------------------------------------------------------

@require_GET
@recruiter_view
def task_list(request: HttpRequest) -> HttpResponse:
    everyone = request.GET.get("owner") == "all"
    groups = tasks_grouped(request.employer_ids, owner_id=None if everyone else request.user.pk,
                           owner_choices=owners_by_employer(request.employer_ids))
    context = {"groups": groups, "everyone": everyone, "next": request.get_full_path()}
    return render(request, "leads/tasks.html", context)


# --- On a lead --------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@recruiter_view
def lead_task_add(request: HttpRequest, pk: int) -> HttpResponse:
    lead = lead_or_404(request, pk)
    owners = member_choices([lead.employer_id])
    if request.method == "GET":
        form = TaskForm(owners=owners, initial={"owner": request.user.pk})
        context = {"lead": lead, "form": form, "action": "add", "owners": owners, "next": safe_next(request, "")}
        return render(request, "leads/_task_page.html", context)
    form = TaskForm(request.POST, owners=owners)
    if form.is_valid():
        data = form.cleaned_data
        try:
            task_add(lead=lead, title=data["title"], due_at=data["due_at"], owner=data["owner"], by=request.user,
                     note=data["note"])
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(request, gettext("Task added: %(title)s.") % {"title": data["title"]})
            return _back(request, lead.pk)
    return _refused(request, lead=lead, form=form, action="add", owners=owners)


@require_POST
@recruiter_view
def lead_task_quick(request: HttpRequest, pk: int) -> HttpResponse:
    lead = lead_or_404(request, pk)
    form = QuickTaskForm(request.POST)
    if form.is_valid():
        try:
            task = task_add_quick(lead=lead, key=form.cleaned_data["template"], by=request.user)
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(request, gettext("Task added: %(title)s.") % {"title": task.title})
            return _back(request, lead.pk)
    return _refused(request, lead=lead, form=form, action="quick")


# --- On a task --------------------------------------------------------------------------------

@require_POST
@recruiter_view
def task_done_view(request: HttpRequest, task_pk: int) -> HttpResponse:
    task = _task_or_404(request, task_pk)
    if task_done(task=task, by=request.user):
        messages.success(request, gettext("Done: %(title)s.") % {"title": task.title})
    else:
        messages.info(request, gettext("%(title)s was done already.") % {"title": task.title})
    return _back(request, task.lead_id)


@require_POST
@recruiter_view
def task_snooze_view(request: HttpRequest, task_pk: int) -> HttpResponse:
    task = _task_or_404(request, task_pk)
    form = SnoozeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            task_snooze(task=task, by=request.user, by_period=data["by"],
                        until=data["until"] if data["by"] == "until" else None)
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(request, gettext("Snoozed: %(title)s, due %(due)s.")
                             % {"title": task.title, "due": _local(task.due_at)})
            return _back(request, task.lead_id)
    return _refused(request, lead=task.lead, form=form, action="snooze", task=task)


@require_POST
@recruiter_view
def task_reassign_view(request: HttpRequest, task_pk: int) -> HttpResponse:
    task = _task_or_404(request, task_pk)
    form = ReassignForm(request.POST)
    if form.is_valid():
        try:
            changed = task_reassign(task=task, owner=form.cleaned_data["owner"], by=request.user)
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            text = (gettext("%(title)s: now with %(owner)s.") % {"title": task.title, "owner": display_name(task.owner)}
                    if changed else gettext("Nothing changed."))
            messages.success(request, text)
            return _back(request, task.lead_id)
    return _refused(request, lead=task.lead, form=form, action="reassign", task=task)


def _local(moment) -> str:
    return date_format(timezone.localtime(moment), "D d M H:i")
