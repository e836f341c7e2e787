"""The lead page's task panel (templates/leads/_lead_tasks.html): its open tasks, the owners to
give one to, the add form and the quick tasks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils import timezone

from leads.forms.filters import member_choices
from leads.forms.next_steps import TaskForm
from leads.selectors.next_steps import lead_open_tasks
from leads.services.next_steps import QUICK_TASK_HOUR, QUICK_TASKS

register = template.Library()


@register.simple_tag(takes_context=True)
def lead_tasks(context: template.Context, lead) -> dict[str, Any]:
    """One query for the tasks. The owners are the lead page's own (its assign form lists the
    members of the lead's employer already); read here only where a page has none."""
    assign_form = context.get("assign_form")
    if assign_form is not None and "owner" in assign_form.fields:
        owners = [(value, label) for value, label in assign_form.fields["owner"].choices if value]
    else:
        owners = member_choices([lead.employer_id])
    tasks = lead_open_tasks(lead)
    for task in tasks:
        task.owner_choices = owners
    user = context.get("user")
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    initial = {"owner": getattr(user, "pk", None),
               "due_at": dt.datetime.combine(tomorrow, dt.time(QUICK_TASK_HOUR), timezone.get_current_timezone())}
    return {"tasks": tasks, "owners": owners, "quick_tasks": QUICK_TASKS,
            "form": TaskForm(owners=owners, initial=initial)}
