"""The English texts the public pages show but that are written where gettext is not used
(the profile declaration in ``leads/profile.py``, the models' choice labels): marked here so
that ``makemessages`` puts them in the catalogues. The public form and the my-data page
translate them where they show them (``gettext(label)``); ``tests/test_languages_public.py``
proves that every one they show is marked here.
"""

from django.utils.translation import gettext_noop as _

DECLARED = (
    # Identity and lists (leads/forms/profile.py)
    _("Full name"), _("Email"), _("Citizenships"), _("Hold Ctrl (or ⌘) to choose more than one."), _("Skills"),
    _("Separated by commas, e.g. Python, Go, SQL."),
    # The profile declaration: questions and help texts for the person applying
    _("Phone"), _("With the country code, for example +64 21 123 4567."), _("Country you live in"), _("City"),
    _("Your time zone"), _("Leave empty to use your country's."), _("LinkedIn or portfolio URL"),
    _("Opening of interest"), _("Role you are looking for"), _("Years of experience"),
    _("Do you need visa sponsorship?"), _("Visa pathway of interest"), _("When could you move?"),
    _("Earliest move date"), _("Relocating"), _("Number of dependants"), _("Does your partner need work rights?"),
    _("Qualifications that need recognition"), _("Why do you want to move?"), _("CV (PDF, DOC or DOCX, up to 5 MB)"),
    _("Send me news about openings."), _("I agree that my details are stored to handle my inquiry."),
    _("a file you sent us"),
    # Choices: yes / no, visa pathway, move timeline, relocating with
    _("Not sure"), _("Yes"), _("No"),
    _("Employer-sponsored work visa"), _("Skilled migrant / residence"), _("Working holiday"),
    _("Partner or family visa"), _("Already has work rights"), _("Not sure yet"),
    _("Ready now"), _("Within 3 months"), _("Within 6 months"), _("12 months or more"), _("Just exploring"),
    _("Alone"), _("With a partner"), _("With family"),
    # The intake's own rules, as the public form shows them (leads/profile.py)
    _("Enter a valid URL."),
)
