"""Forms of tasks: add one, a quick one, snooze, reassign.

Dates and times are read in the current time zone, which ``recruiter_view`` sets to the
recruiter's: "09:00" typed in Auckland is 09:00 in Auckland. Whether the owner may own the
task is the service's rule (``leads.services.next_steps``); the form only finds the person.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leads.fields import EARLIEST_DATE, LATEST_DATE, CheckedForm
from leads.services.next_steps import QUICK_TASKS, SNOOZES

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class BoundedDateTimeField(forms.DateTimeField):
    """A date and time between 1900 and 2199, as ``<input type="datetime-local">`` sends it;
    anything else is a field error, never an overflow further on."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL)
    default_error_messages = {"invalid": _("Enter a date and time, such as 2026-11-03 09:00.")}

    def to_python(self, value):
        if isinstance(value, str) and len(value) > 40:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        result = super().to_python(value)
        if result is not None and not EARLIEST_DATE <= result.date() <= LATEST_DATE:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return result


class OwnerField(forms.IntegerField):
    """A user, by id. An id that names nobody gets the same answer as one of another employer."""

    default_error_messages = {"invalid": _("The owner must be a member of this lead's employer.")}

    def __init__(self, *, owners: list[tuple[str, str]] = (), **kwargs) -> None:
        kwargs.setdefault("widget", forms.Select(choices=owners))
        super().__init__(min_value=1, max_value=2**31 - 1, **kwargs)
        self.error_messages["min_value"] = self.error_messages["max_value"] = self.error_messages["invalid"]

    def clean(self, value):
        pk = super().clean(value)
        if pk is None:
            return None
        user = get_user_model().objects.filter(pk=pk).first()
        if user is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return user


class TaskForm(CheckedForm):
    title = forms.CharField(max_length=200, label=_("Next step"),
                            error_messages={"required": _("Say what the next step is.")})
    due_at = BoundedDateTimeField(label=_("Due"), error_messages={"required": _("Enter when the task is due.")})
    owner = OwnerField(label=_("Assigned to"), error_messages={"required": _("Choose who owns the task.")})
    note = forms.CharField(max_length=5000, required=False, label=_("Details (optional)"),
                           widget=forms.TextInput(attrs={"placeholder": _("Details (optional)")}))

    def __init__(self, *args, owners: list[tuple[str, str]], **kwargs) -> None:
        kwargs.setdefault("auto_id", "task-%s")
        super().__init__(*args, **kwargs)
        self.fields["owner"].widget.choices = owners
        for name, field in self.fields.items():
            select = name == "owner"
            field.widget.attrs["class"] = "form-select form-select-sm" if select else "form-control form-control-sm"


class QuickTaskForm(CheckedForm):
    template = forms.ChoiceField(choices=[(quick.key, quick.label) for quick in QUICK_TASKS],
                                 error_messages={"invalid_choice": _("Choose one of the quick tasks."),
                                                 "required": _("Choose one of the quick tasks.")})


class SnoozeForm(CheckedForm):
    by = forms.ChoiceField(
        choices=[*((key, key) for key in SNOOZES), ("until", _("until"))],
        error_messages={"invalid_choice": _("Snooze by a day or a week, or until a time you choose."),
                        "required": _("Snooze by a day or a week, or until a time you choose.")},
    )
    until = BoundedDateTimeField(required=False, label=_("Snooze until"))

    def clean(self):
        data = super().clean()
        if data.get("by") == "until" and not data.get("until") and "until" not in self.errors:
            self.add_error("until", gettext("Enter the date and time to snooze the task to."))
        return data


class ReassignForm(CheckedForm):
    owner = OwnerField(label=_("Owner"), error_messages={"required": _("Choose who owns the task.")})
