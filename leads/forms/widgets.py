"""Widgets for selects with hundreds of options (countries, time zones)."""

from __future__ import annotations

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe


class FastSelect(forms.Select):
    """A <select> rendered by string joining. Django renders each <option> through a template,
    which for the two country lists (250 options each) took ~100 ms on every list and board page."""

    def render(self, name, value, attrs=None, renderer=None) -> str:
        chosen = {"" if v is None else str(v) for v in (value if isinstance(value, list | tuple) else [value])}
        options = format_html_join(
            "", '<option value="{}"{}>{}</option>',
            ((key, mark_safe(" selected") if str(key) in chosen else "", label)
             for key, label in self._flat_choices()),
        )
        final_attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        return format_html("<select{}>{}</select>", flatatt(final_attrs), options)

    def _flat_choices(self):
        for key, label in self.choices:
            if isinstance(label, list | tuple):  # an optgroup: flattened, groups are not used here
                yield from label
            else:
                yield ("" if key is None else getattr(key, "value", key), label)


class FastSelectMultiple(FastSelect):
    """FastSelect for a multiple choice; submitted as a list, as SelectMultiple is."""

    allow_multiple_selected = True

    def __init__(self, attrs=None, choices=()) -> None:
        super().__init__({**(attrs or {}), "multiple": True}, choices)

    def value_from_datadict(self, data, files, name):
        getter = getattr(data, "getlist", None)
        return getter(name) if getter else data.get(name)

    def value_omitted_from_data(self, data, files, name) -> bool:
        return False
