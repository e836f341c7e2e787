"""Forms of the actions on one lead and on a selection of leads."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leads.fields import CheckedForm
from leads.models import ActivityKind, ClosedReason, Stage


class MoveStageForm(CheckedForm):
    to_stage = forms.ChoiceField(label=_("Move to"))
    reason = forms.CharField(required=False, max_length=2000, label=_("Reason"),
                             help_text=_("Needed to move backwards or reopen a closed lead."),
                             widget=forms.TextInput())
    closed_reason = forms.ModelChoiceField(queryset=None, required=False, label=_("Closed because"),
                                           help_text=_("Needed to close a lead (declined, withdrawn, unresponsive)."))

    def __init__(self, *args, lead, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_stage"].choices = [(v, label) for v, label in Stage.choices if v != lead.stage]
        self.fields["closed_reason"].queryset = ClosedReason.objects.filter(
            employer_id=lead.employer_id, active=True
        ).order_by("position", "label")


class AssignForm(CheckedForm):
    owner = forms.ChoiceField(required=False, label=_("Owner"))

    def __init__(self, *args, owners: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", gettext("Nobody")), *owners]


class NoteForm(CheckedForm):
    body = forms.CharField(max_length=20_000, label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}))


class ActivityForm(CheckedForm):
    kind = forms.ChoiceField(
        choices=[(k, label) for k, label in ActivityKind.choices if k != ActivityKind.SYSTEM], label=_("What")
    )
    summary = forms.CharField(max_length=300, label=_("Summary"))
    details = forms.CharField(max_length=20_000, required=False, widget=forms.Textarea(attrs={"rows": 2}))


# --- Bulk actions on a selection of the list ------------------------------------------------------

class LeadIdsField(forms.Field):
    """The ticked leads: whole numbers, at most 500."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        if len(values) > 500:
            raise ValidationError(gettext("Select at most 500 leads at a time."))
        try:
            return sorted({int(v) for v in values})
        except (TypeError, ValueError):
            raise ValidationError(gettext("The selection is not valid.")) from None


class BulkActionForm(CheckedForm):
    ACTIONS = [("assign", _("Assign owner")), ("move", _("Move stage")), ("pause", _("Pause follow-ups")),
               ("export", _("Export CSV"))]

    action = forms.ChoiceField(choices=ACTIONS,
                               error_messages={"required": _("Choose what to do with the ticked leads.")})
    ids = LeadIdsField(error_messages={"required": _("Tick at least one lead.")})
    owner = forms.ChoiceField(required=False)
    to_stage = forms.ChoiceField(required=False, choices=[("", "—"), *Stage.choices], label=_("Stage"))
    reason = forms.CharField(required=False, max_length=2000)
    closed_reason = forms.ModelChoiceField(queryset=ClosedReason.objects.none(), required=False)

    def __init__(self, *args, employer_ids: list[int], owners: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # "" is no choice made; "none" is the choice to leave them with nobody.
        self.fields["owner"].choices = [("", gettext("Choose…")), ("none", gettext("Nobody (unassign)")), *owners]
        self.fields["closed_reason"].queryset = ClosedReason.objects.filter(
            employer_id__in=employer_ids, active=True
        ).order_by("position", "label")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == "move" and not data.get("to_stage"):
            self.add_error("to_stage", gettext("Choose the stage to move the leads to."))
        if data.get("action") == "assign" and not data.get("owner"):
            self.add_error("owner", gettext("Choose who gets the leads (or Nobody, to unassign them)."))
        return data
