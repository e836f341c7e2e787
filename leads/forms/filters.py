"""The lead list's and the board's filters, read from the query string."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leads.fields import BoundedDateField, CheckedForm
from leads.forms.choices import choices_of, country_choices, yes_no
from leads.forms.widgets import FastSelect
from leads.models import MoveTimeline, Opening, Source, Stage, display_name


def member_choices(employer_ids: list[int]) -> list[tuple[str, str]]:
    """The users of these employers, for owner filters and assignment (one query)."""
    from django.contrib.auth import get_user_model

    users = (
        get_user_model().objects.filter(memberships__employer_id__in=employer_ids, is_active=True)
        .distinct().order_by("username").only("pk", "username", "first_name", "last_name")
    )
    return [(str(u.pk), display_name(u)) for u in users]


class LeadFilterForm(CheckedForm):
    """The list's filters, read from the query string; an invalid one is shown and ignored."""

    q = forms.CharField(required=False, max_length=200, label=_("Search"),
                        widget=forms.TextInput(attrs={"placeholder": _("Name, email, phone or skill"),
                                                      "type": "search"}))
    stage = forms.ChoiceField(required=False, label=_("Stage"))
    source = forms.ChoiceField(required=False, label=_("Source"))
    current_country = forms.ChoiceField(choices=country_choices(_("Any")), required=False, label=_("Country"))
    citizenship = forms.ChoiceField(choices=country_choices(_("Any")), required=False, label=_("Citizenship"))
    opening = forms.ModelChoiceField(queryset=Opening.objects.none(), required=False, empty_label=_("Any"),
                                     label=_("Opening"))
    owner = forms.ChoiceField(required=False, label=_("Owner"))
    move_timeline = forms.ChoiceField(choices=choices_of(MoveTimeline, _("Any")), required=False,
                                      label=_("Move timeline"))
    needs_sponsorship = forms.TypedChoiceField(
        choices=[("", _("Any")), ("yes", _("Yes")), ("no", _("No"))], coerce=yes_no, empty_value=None, required=False,
        label=_("Needs sponsorship"),
    )
    created_from = BoundedDateField(required=False, label=_("Created from"),
                                    widget=forms.DateInput(attrs={"type": "date"}))
    created_to = BoundedDateField(required=False, label=_("Created to"), widget=forms.DateInput(attrs={"type": "date"}))
    duplicate = forms.BooleanField(required=False, label=_("Possible duplicates only"))
    open = forms.BooleanField(required=False, label=_("Open leads only (not closed)"))
    waiting = forms.BooleanField(required=False, label=_("Waiting beyond the response target"))
    contacted = forms.TypedChoiceField(
        choices=[("", _("Any")), ("yes", _("Contacted")), ("no", _("Not contacted yet"))], coerce=yes_no,
        empty_value=None, required=False, label=_("First contact"),
    )
    tasks = forms.ChoiceField(
        choices=[("", _("Any")), ("open", _("With an open task")), ("overdue", _("With an overdue task"))],
        required=False, label=_("Tasks"),
    )
    sort = forms.ChoiceField(required=False, label=_("Sort"),
                             choices=[("newest", _("Newest first")), ("oldest", _("Oldest first")),
                                      ("active", _("Recently active"))])
    size = forms.TypedChoiceField(required=False, coerce=int, empty_value=50,
                                  choices=[("25", "25"), ("50", "50"), ("100", "100"), ("200", "200")],
                                  label=_("Per page"))

    def __init__(self, data=None, *, employer_ids: list[int], owners: list[tuple[str, str]]) -> None:
        if data is not None and not data.get("size"):
            # The page size shown is the one used (the first choice would show otherwise).
            data = data.copy()
            data["size"] = "50"
        super().__init__(data, initial={"size": "50"})
        self.fields["stage"].choices = [("", gettext("Any")), *Stage.choices]
        self.fields["source"].choices = [("", gettext("Any")), *Source.choices]
        self.fields["owner"].choices = [("", gettext("Anyone")), ("none", gettext("Nobody")), *owners]
        self.fields["opening"].queryset = Opening.objects.filter(employer_id__in=employer_ids).order_by("title")
        for bound in self:
            if type(bound.field.widget) is forms.Select:
                bound.field.widget = FastSelect(choices=bound.field.widget.choices)
            widget = bound.field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs["class"] = "form-check-input"
            else:
                widget.attrs["class"] = "form-select form-select-sm" if isinstance(widget, forms.Select) \
                    else "form-control form-control-sm"

    def filters(self) -> dict[str, Any]:
        """The valid filters (an invalid field is left out, and its error shown)."""
        self.is_valid()
        data = dict(getattr(self, "cleaned_data", {}))
        data.pop("sort", None)
        data.pop("size", None)
        return data

    @property
    def sort_order(self) -> str:
        self.is_valid()
        return getattr(self, "cleaned_data", {}).get("sort") or "newest"

    @property
    def page_size(self) -> int:
        self.is_valid()
        return getattr(self, "cleaned_data", {}).get("size") or 50
