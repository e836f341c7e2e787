"""The form in Arabic, in a real browser: laid out right to left, sent, thanked in Arabic, and
acknowledged in Arabic by email through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from django.core.management import call_command
from django.utils import translation

from leads.models import Lead
from leads.tasks import dispatch_due_emails


def test_the_arabic_form_is_right_to_left_and_thanks_in_arabic(page, live_server, cast, fast_form, smtp):
    cast.employer.languages = ["en", "ar"]
    cast.employer.save()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/apply/{cast.employer.slug}/?lang=ar")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.get_attribute("html", "lang") == "ar"
    assert page.evaluate("() => getComputedStyle(document.querySelector('form')).direction") == "rtl"
    submit = page.get_by_role("button", name="أرسل طلبي")
    submit.scroll_into_view_if_needed()
    width = page.evaluate("() => document.documentElement.clientWidth")
    form = page.locator("form.card").bounding_box()
    button, label = submit.bounding_box(), page.locator("label[for=id_name]").bounding_box()
    page.screenshot(path="/tmp/relocate-form-arabic.png", full_page=True)
    # Right to left, the labels start at the form's right edge (the name's label sits in the right
    # half) and the submit button ends the form at its left edge, in the page's left half.
    assert abs(button["x"] - form["x"]) < 40
    assert button["x"] + button["width"] < width / 2
    assert label["x"] > width / 2
    assert page.locator("label[for=id_name]").evaluate("e => getComputedStyle(e).direction") == "rtl"
    page.get_by_label("الاسم الكامل").fill("ليلى حداد")
    page.get_by_label("البريد الإلكتروني").fill("layla.haddad@example.org")
    page.get_by_label("أوافق على حفظ بياناتي لمعالجة طلبي.").check()
    submit.click()
    assert page.get_by_role("heading", name="شكرًا لك، وصلنا طلبك").is_visible()
    assert page.get_attribute("html", "dir") == "rtl"
    call_command("intake_drain")
    lead = Lead.objects.get(email="layla.haddad@example.org")
    assert lead.language == "ar"
    # The worker sends the acknowledgement: it arrives at the SMTP server in Arabic.
    dispatch_due_emails()
    [received] = smtp.recorder.messages(to="layla.haddad@example.org")
    with translation.override("ar"):
        subject = translation.gettext("We received your inquiry — %(name)s") % {"name": cast.employer.name}
    assert subject != f"We received your inquiry — {cast.employer.name}"
    assert str(received.message["Subject"]).strip() == subject  # folded onto its own line on the wire
    assert received.message["Content-Language"] == "ar"
    body = received.message.get_body(("plain",)).get_content()
    assert body.startswith("مرحبًا ليلى،")  # "Hello Layla," with the Arabic comma
