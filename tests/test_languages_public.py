"""The public side in the applicant's language: ?lang=, else Accept-Language, among the
languages the employer enables, else its default; Arabic right to left; the cached form page
kept per language; every declared text the form shows is in the catalogues."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from leads import i18n_strings
from leads.emails import unsubscribe_token
from leads.forms import PublicInquiryForm
from leads.models import Language
from leads.views import public
from tests.factories import LeadFactory
from tests.test_public_form import form_data

# A message of the form's own in each language: the consent a person must give.
CONSENT_REQUIRED = {
    "en": "Please accept the privacy terms so that we can store your inquiry.",
    "fr": "Veuillez accepter les conditions de confidentialité afin que nous puissions enregistrer votre demande.",
    "de": "Bitte stimmen Sie den Datenschutzbestimmungen zu, damit wir Ihre Anfrage speichern können.",
    "es": "Acepta las condiciones de privacidad para que podamos guardar tu solicitud.",
    "pt-br": "Aceite os termos de privacidade para que possamos registrar sua solicitação.",
    "ar": "يُرجى الموافقة على شروط الخصوصية حتى نتمكن من حفظ طلبك.",
}
# Django's own message for an empty required field, from Django's catalogues.
REQUIRED = {"en": "This field is required.", "fr": "Ce champ est obligatoire.",
            "de": "Dieses Feld ist zwingend erforderlich.", "es": "Este campo es obligatorio.",
            "pt-br": "Este campo é obrigatório.", "ar": "هذا الحقل مطلوب."}
HEADING = {"en": "Tell us about yourself", "fr": "Parlez-nous de vous", "de": "Erzählen Sie uns von sich",
           "es": "Cuéntanos sobre ti", "pt-br": "Conte-nos sobre você", "ar": "أخبرنا عن نفسك"}


@pytest.fixture(autouse=True)
def _quick(settings):
    settings.RELOCATE_PUBLIC_FORM_MIN_SECONDS = 0


@pytest.fixture
def every_language(cast):
    cast.employer.languages = list(Language.values)
    cast.employer.save()
    return cast.employer


def apply_url(employer, lang: str = "") -> str:
    return reverse("leads:public_apply", args=[employer.slug]) + (f"?lang={lang}" if lang else "")


@pytest.mark.parametrize("lang", Language.values)
def test_each_language_shows_the_form_and_its_errors_in_it(client, every_language, lang):
    page = client.get(apply_url(every_language, lang)).content.decode()
    assert HEADING[lang] in page
    assert f'<html lang="{lang}"' in page
    response = client.post(apply_url(every_language, lang), form_data(privacy_accepted=None, name=""))
    html = response.content.decode()
    assert response.status_code == 400
    assert CONSENT_REQUIRED[lang] in html
    assert REQUIRED[lang] in html
    # The action keeps the language, so that the next round answers in it too.
    assert f'action="{apply_url(every_language, lang)}"' in html


def test_a_valid_submission_thanks_in_the_chosen_language(client, every_language):
    response = client.post(apply_url(every_language, "de"), form_data())
    assert response.status_code == 302
    assert response["Location"].endswith("/thanks/?lang=de")
    assert "Vielen Dank, wir haben Ihre Anfrage erhalten" in client.get(response["Location"]).content.decode()


def test_accept_language_chooses_without_lang(client, every_language):
    html = client.get(apply_url(every_language), HTTP_ACCEPT_LANGUAGE="pt-BR,pt;q=0.9,en;q=0.5").content.decode()
    assert HEADING["pt-br"] in html
    html = client.get(apply_url(every_language), HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9").content.decode()
    assert HEADING["es"] in html


def test_a_language_the_employer_did_not_enable_falls_back_to_its_default(client, cast):
    cast.employer.languages = ["en", "fr"]
    cast.employer.default_language = "fr"
    cast.employer.save()
    for response in (client.get(apply_url(cast.employer, "de")),
                     client.get(apply_url(cast.employer), HTTP_ACCEPT_LANGUAGE="ar, de;q=0.8")):
        html = response.content.decode()
        assert HEADING["fr"] in html and HEADING["de"] not in html and HEADING["ar"] not in html
    # A language it enables is still chosen from the browser.
    assert HEADING["en"] in client.get(apply_url(cast.employer), HTTP_ACCEPT_LANGUAGE="en-GB").content.decode()


def test_the_cached_page_is_kept_per_language(client, every_language):
    public.form_page_html.cache_clear()
    french = client.get(apply_url(every_language, "fr")).content.decode()
    german = client.get(apply_url(every_language, "de")).content.decode()
    again = client.get(apply_url(every_language, "fr")).content.decode()
    info = public.form_page_html.cache_info()
    assert info.currsize == 2 and info.hits == 1
    assert HEADING["fr"] in french and HEADING["fr"] in again and HEADING["de"] in german
    assert HEADING["fr"] not in german
    # Country names in the page's language.
    assert ">Allemagne<" in french and ">Deutschland<" in german


def test_arabic_is_right_to_left_with_the_rtl_stylesheet(client, every_language):
    html = client.get(apply_url(every_language, "ar")).content.decode()
    assert '<html lang="ar" dir="rtl">' in html
    assert "bootstrap.rtl.min.css" in html and "bootstrap.min.css" not in html
    english = client.get(apply_url(every_language, "en")).content.decode()
    assert 'dir="rtl"' not in english.split("<head>")[0] and "bootstrap.min.css" in english


def test_the_switch_lists_only_the_enabled_languages_in_their_own_names(client, cast):
    cast.employer.languages = ["en", "ar", "pt-br"]
    cast.employer.save()
    html = client.get(apply_url(cast.employer, "pt-br")).content.decode()
    switch = html.split('id="language-switch"')[1].split("</nav>")[0]
    assert "English" in switch and "العربية" in switch and "Português (Brasil)" in switch
    assert "Français" not in switch and "Deutsch" not in switch
    assert 'href="/apply/kiwi-ledger/?lang=ar" lang="ar" hreflang="ar" dir="rtl"' in switch
    assert 'aria-current="true">Português (Brasil)' in switch


def test_one_language_shows_no_switch_and_no_lang_in_addresses(client, cast):
    html = client.get(apply_url(cast.employer)).content.decode()
    assert 'id="language-switch"' not in html and "?lang=" not in html


def test_token_pages_speak_the_leads_language(client, cast):
    cast.employer.languages = ["en", "es"]
    cast.employer.save()
    lead = LeadFactory(employer=cast.employer, language="es")
    url = reverse("unsubscribe", args=[unsubscribe_token(lead.pk)])
    assert "Darme de baja" in client.get(url).content.decode()
    assert "Unsubscribe" in client.get(url + "?lang=en").content.decode()
    response = client.post(url)
    assert "Te has dado de baja" in response.content.decode()


def test_every_declared_text_the_form_shows_is_in_the_catalogues(cast):
    """The form translates its declared English texts at render time; each must be marked."""
    marked = set(i18n_strings.DECLARED)
    with translation.override("en"):
        form = PublicInquiryForm()
    shown = set()
    for field in form.fields.values():
        if field.widget.is_hidden:
            continue
        shown |= {str(field.help_text)} - {""}
        choices = field.choices if isinstance(getattr(field, "choices", None), list) else []
        shown |= {str(label) for value, label in choices if value and not isinstance(value, int)}
    for spec_text in shown:
        with translation.override("fr"):
            assert spec_text in marked or translation.gettext(spec_text) != spec_text, spec_text


def test_the_admin_enables_languages_and_the_default_must_be_one_of_them(cast):
    from leads.admin.employers import EmployerForm

    data = {field: value for field, value in EmployerForm(instance=cast.employer).initial.items()
            if value is not None and field not in ("logo", "languages")}
    form = EmployerForm({**data, "languages": ["en", "fr"], "default_language": "de"}, instance=cast.employer)
    assert "default_language" in form.errors
    form = EmployerForm({**data, "languages": ["fr", "ar"], "default_language": "fr"}, instance=cast.employer)
    assert "languages" not in form.errors and "default_language" not in form.errors


def test_the_public_languages_are_the_settings_languages():
    assert [code for code, _name in settings.LANGUAGES] == list(Language.values)
