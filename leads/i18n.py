"""Which language a page speaks (docs/languages.md).

Recruiter pages: the recruiter's own choice (kept in the session at login, so no query), else
the browser's ``Accept-Language`` among ``RECRUITER_LANGUAGES``. Public pages (the form, its
thank-you page, and the pages an email links to): ``?lang=<code>``, else ``Accept-Language``,
among the languages the employer enables (for a lead's pages, the lead's own language first),
else the employer's default language.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

from leads.models import Language

QUERY_PARAMETER = "lang"
SESSION_KEY = "relocate_language"
RTL_LANGUAGES = frozenset({Language.AR.value})
PUBLIC_PREFIXES = ("/apply/", "/unsubscribe/", "/still-interested/", "/my-data/")
_NAMES = dict(Language.choices)


def is_public_path(path: str) -> bool:
    return path.startswith(PUBLIC_PREFIXES)


def _known(code: str, offered: Iterable[str]) -> str:
    """The offered language a code names ("pt-BR" and "pt_br" are pt-br; "fr-CA" is fr), or ""."""
    code = (code or "").strip().lower().replace("_", "-")
    offered = tuple(offered)
    if code in offered:
        return code
    base = code.split("-", 1)[0]
    if base in offered:
        return base
    # "pt" or "pt-PT" asks for Portuguese: Brazilian Portuguese is the one offered.
    return next((lang for lang in offered if lang.split("-", 1)[0] == base and base), "")


def accepted(request: HttpRequest, offered: Iterable[str]) -> str:
    """The first language of the browser's Accept-Language that is offered, or ""."""
    offered = tuple(offered)
    for code, _quality in parse_accept_lang_header(request.META.get("HTTP_ACCEPT_LANGUAGE", "")[:500]):
        found = _known(code, offered)
        if found:
            return found
    return ""


def recruiter_language(request: HttpRequest) -> str:
    offered = settings.RECRUITER_LANGUAGES
    session = getattr(request, "session", None)
    chosen = _known(session.get(SESSION_KEY, "") if session is not None else "", offered)
    return chosen or accepted(request, offered) or settings.LANGUAGE_CODE


def public_language(request: HttpRequest, *, languages: Iterable[str], default: str, preferred: str = "") -> str:
    """The language of a public page: ?lang=, else (a lead's page) the lead's own language,
    else Accept-Language, each only if the employer offers it; else the employer's default."""
    offered = enabled_languages(languages, default)
    return (_known(request.GET.get(QUERY_PARAMETER, "")[:20], offered) or _known(preferred, offered)
            or accepted(request, offered) or offered[0])


def enabled_languages(languages: Iterable[str], default: str) -> tuple[str, ...]:
    """The employer's languages in a stable order, its default first; unknown codes dropped."""
    wanted = {str(code) for code in languages or ()} | {default}
    ordered = [default] + [code for code in Language.values if code in wanted and code != default]
    return tuple(code for code in ordered if code in Language.values) or (settings.LANGUAGE_CODE,)


def activate_public(request: HttpRequest, *, languages: Iterable[str], default: str, preferred: str = "") -> str:
    """Activate the page's language for the rest of this request (LanguageMiddleware restores
    the previous one afterwards) and return it."""
    language = public_language(request, languages=languages, default=default, preferred=preferred)
    translation.activate(language)
    request.LANGUAGE_CODE = language
    return language


@dataclass(frozen=True)
class LanguageLink:
    code: str
    name: str  # in its own language: "Deutsch", "العربية"
    url: str
    current: bool
    rtl: bool


def language_links(path: str, languages: Iterable[str], current: str, query: dict[str, str] | None = None
                   ) -> list[LanguageLink]:
    """The language switch: one link per language the employer offers, to this page in it."""
    links = []
    for code in languages:
        params = {**(query or {}), QUERY_PARAMETER: code}
        links.append(LanguageLink(code=code, name=_NAMES.get(code, code), url=f"{path}?{urlencode(params)}",
                                  current=code == current, rtl=code in RTL_LANGUAGES))
    return links


def with_language(url: str, language: str) -> str:
    """A URL that keeps the page's language (the form's action, the redirect to the thank-you page)."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode({QUERY_PARAMETER: language})}"


def stored_text():
    """Text written to the database (timeline summaries, reasons, audit details) is in the
    product's base language, whoever's page language is active: it is read later by people
    with other languages, and some of it is matched by prefix. Use as ``with stored_text():``."""
    return translation.override(settings.LANGUAGE_CODE)
