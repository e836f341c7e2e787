"""The employer's colour as a stylesheet, /apply/<slug>/brand.css: the Content Security Policy
refuses inline styles, so the public pages link this instead of a <style> with the colour.

It reads the same snapshot as the public form (``public_employer``), so it answers when the
database is slow or down; a closed or unknown employer is a 404, as the form is.
"""

from __future__ import annotations

import re

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from leads.selectors.public import PublicPageUnavailable, public_employer

# Bootstrap's primary blue, the model's default colour.
DEFAULT_COLOUR = "#0d6efd"
# The model validates the colour; it is checked again here because the value goes into CSS
# unescaped: anything but #rrggbb (a row changed by a raw UPDATE, say) gets the default.
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_MAX_AGE = 300
# Nothing is known about the employer just now: the default, kept briefly.
_MAX_AGE_UNAVAILABLE = 60


def brand_stylesheet(colour: str) -> str:
    """The rules of the public pages that take the employer's colour."""
    if not (isinstance(colour, str) and _COLOUR.fullmatch(colour)):
        colour = DEFAULT_COLOUR
    return (
        f".brand-bar{{background:{colour}}}\n"
        f".btn-primary{{--bs-btn-bg:{colour};--bs-btn-border-color:{colour}}}\n"
        # The buttons of the pages linked from emails (static/css/public-standalone.css).
        f".brand-button{{background:{colour}}}\n"
    )


@require_safe
def brand_css(request: HttpRequest, slug: str) -> HttpResponse:
    max_age = _MAX_AGE
    try:
        employer = public_employer(slug)
    except PublicPageUnavailable:
        colour, max_age = DEFAULT_COLOUR, _MAX_AGE_UNAVAILABLE
    else:
        if employer is None:
            raise Http404("No such employer.")
        colour = employer.brand_colour
    response = HttpResponse(brand_stylesheet(colour), content_type="text/css; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={max_age}"
    return response
