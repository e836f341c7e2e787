"""Form fields with the bounds every form needs, so that no input reaches arithmetic or the
database that they cannot hold."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

# Far enough for any date a person or a report means; near enough that a day or a year added
# to it, or a time zone, never overflows.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2199, 12, 31)


class BoundedDateField(forms.DateField):
    """A date between 1900 and 2199: "9999-12-31" is a form error, not an OverflowError."""

    def to_python(self, value):
        result = super().to_python(value)
        if result is not None and not EARLIEST_DATE <= result <= LATEST_DATE:
            raise ValidationError(
                gettext("Enter a date between %(earliest)s and %(latest)s.")
                % {"earliest": f"{EARLIEST_DATE:%Y}", "latest": f"{LATEST_DATE:%Y}"}, code="out_of_range"
            )
        return result


def duplicated_single_fields(form: forms.BaseForm) -> list[str]:
    """The fields that expect one value and were sent several times (``email=a&email=b``):
    which of them was meant cannot be known, so the form refuses them."""
    data = form.data
    getlist = getattr(data, "getlist", None)
    if not form.is_bound or getlist is None:
        return []
    names = []
    for name, field in form.fields.items():
        if isinstance(field.widget, forms.SelectMultiple | forms.MultipleHiddenInput | forms.CheckboxSelectMultiple):
            continue
        if getattr(field.widget, "allow_multiple_selected", False):
            continue
        key = form.add_prefix(name)
        if len(getlist(key)) > 1:
            names.append(name)
    return names


class CheckedForm(forms.Form):
    """The base of every form of the app: refuses a single-valued field sent more than once."""

    def full_clean(self) -> None:
        super().full_clean()
        if not self.is_bound:
            return
        for name in duplicated_single_fields(self):
            if name not in self.errors:
                self.add_error(name, gettext("This field was sent more than once; send it once."))
