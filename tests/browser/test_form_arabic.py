"""The form in Arabic, in a real browser: laid out right to left, sent, thanked in Arabic."""

from __future__ import annotations

from django.core.management import call_command

from leads.models import Lead


def test_the_arabic_form_is_right_to_left_and_thanks_in_arabic(page, live_server, cast, fast_form):
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
    # The submit button spans the form's column (its centre is the page's); right to left, the
    # labels and the button start at the form's right edge and the name's label sits in the right half.
    assert abs((button["x"] + button["width"]) - (form["x"] + form["width"])) < 40
    assert label["x"] > width / 2
    assert page.locator("label[for=id_name]").evaluate("e => getComputedStyle(e).direction") == "rtl"
    page.get_by_label("الاسم الكامل").fill("ليلى حداد")
    page.get_by_label("البريد الإلكتروني").fill("layla.haddad@example.org")
    page.get_by_label("أوافق على حفظ بياناتي لمعالجة طلبي.").check()
    submit.click()
    assert page.get_by_role("heading", name="شكرًا لك، وصلنا طلبك").is_visible()
    assert page.get_attribute("html", "dir") == "rtl"
    call_command("intake_drain")
    assert Lead.objects.filter(email="layla.haddad@example.org").exists()
