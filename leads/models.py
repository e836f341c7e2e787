"""The domain model: employers (tenants), their people, leads and everything that happens to them.

Single-row rules and derived state live here; writes that span rows live in ``leads.services``.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from decimal import Decimal
from email.utils import formataddr

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_countries.fields import CountryField

from leads.timezones import validate_time_zone


def display_name(user) -> str:
    """How a person is named on timelines, emails and reports: full name, else username."""
    return user.get_full_name() or user.get_username()


class Stage(models.TextChoices):
    NEW = "new", _("New")
    CONTACTED = "contacted", _("Contacted")
    APPLIED = "applied", _("Applied")
    INTERVIEWING = "interviewing", _("Interviewing")
    OFFER = "offer", _("Offer")
    HIRED = "hired", _("Hired")
    VISA = "visa", _("Visa lodged")
    RELOCATED = "relocated", _("Relocated")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    UNRESPONSIVE = "unresponsive", _("Unresponsive")


# The milestones in order: the funnel from interest to action.
MILESTONES: tuple[str, ...] = (
    Stage.NEW,
    Stage.CONTACTED,
    Stage.APPLIED,
    Stage.INTERVIEWING,
    Stage.OFFER,
    Stage.HIRED,
    Stage.VISA,
    Stage.RELOCATED,
)
CLOSED_STAGES: frozenset[str] = frozenset({Stage.DECLINED, Stage.WITHDRAWN, Stage.UNRESPONSIVE})
MILESTONE_RANK: dict[str, int] = {stage: rank for rank, stage in enumerate(MILESTONES)}


class Source(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    EMAIL = "email", pgettext_lazy("where a lead came from", "Email")
    API = "api", "API"
    IMPORT = "import", _("Import")
    REFERRAL = "referral", _("Referral")
    EVENT = "event", _("Event")
    MANUAL = "manual", _("Manual entry")


class MoveTimeline(models.TextChoices):
    NOW = "now", _("Ready now")
    MONTHS_3 = "3m", _("Within 3 months")
    MONTHS_6 = "6m", _("Within 6 months")
    MONTHS_12 = "12m", _("12 months or more")
    EXPLORING = "exploring", _("Just exploring")


class RelocatingWith(models.TextChoices):
    ALONE = "alone", _("Alone")
    PARTNER = "partner", _("With a partner")
    FAMILY = "family", _("With family")


class VisaPathway(models.TextChoices):
    EMPLOYER_SPONSORED = "employer_sponsored", _("Employer-sponsored work visa")
    SKILLED_RESIDENCE = "skilled_residence", _("Skilled migrant / residence")
    WORKING_HOLIDAY = "working_holiday", _("Working holiday")
    PARTNER = "partner", _("Partner or family visa")
    HAS_RIGHTS = "has_rights", _("Already has work rights")
    NOT_SURE = "not_sure", _("Not sure yet")


hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Enter a colour as #rrggbb."))
# Names that end up in email headers and on one line of a page: no line breaks or other control
# characters (a CR/LF in a sender name would break every email of the employer).
single_line = RegexValidator(r"^[^\x00-\x1f\x7f]*$",
                             _("Use one line of text, without line breaks or control characters."))
weekday_list = RegexValidator(r"^[0-6](,[0-6])*$",
                              _("Enter weekdays as numbers 0 (Monday) to 6, separated by commas."))


class LegalBasis(models.TextChoices):
    """Why the employer may hold a person's data and email them. Without one nothing is sent."""

    CONSENT = "consent", _("Consent given on a form")
    CONSENT_IN_PERSON = "consent_in_person", _("Consent given in person")
    LEGITIMATE_INTEREST = "legitimate_interest", _("Legitimate interest (they asked us)")


class Language(models.TextChoices):
    """The applicant's languages: the public pages and every email to a lead (docs/languages.md).
    Codes as Django spells them; pt-br is Brazilian Portuguese, ar is written right to left.
    Each is named in itself, in every page language (as settings.LANGUAGES): its translation is
    the same name, so that a person finds theirs whatever the page's language."""

    EN = "en", pgettext_lazy("language name, in that language: keep as is", "English")
    FR = "fr", pgettext_lazy("language name, in that language: keep as is", "Français")
    DE = "de", pgettext_lazy("language name, in that language: keep as is", "Deutsch")
    ES = "es", pgettext_lazy("language name, in that language: keep as is", "Español")
    PT_BR = "pt-br", pgettext_lazy("language name, in that language: keep as is", "Português (Brasil)")
    AR = "ar", pgettext_lazy("language name, in that language: keep as is", "العربية")


def default_languages() -> list[str]:
    return [Language.EN.value]


class Employer(models.Model):
    """The tenant: every lead, opening, template and email belongs to exactly one employer."""

    name = models.CharField(max_length=200, validators=[single_line])
    slug = models.SlugField(max_length=80, unique=True,
                            help_text=_("Used in the public form's address: /apply/<slug>/."))
    destination_country = CountryField()
    public_intake_enabled = models.BooleanField(default=True)
    logo = models.ImageField(upload_to="logos/", blank=True)
    brand_colour = models.CharField(max_length=7, default="#0d6efd", validators=[hex_colour])
    sender_name = models.CharField(max_length=200, blank=True, validators=[single_line])
    sender_email = models.EmailField(blank=True)
    default_sequence = models.ForeignKey(
        "Sequence", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # The public form's languages, and the one emails fall back to when a template has no
    # translation in the lead's language.
    languages = models.JSONField(
        default=default_languages, blank=True,
        help_text=_("The languages the public form offers (codes: en, fr, de, es, pt-br, ar)."),
    )
    default_language = models.CharField(max_length=8, choices=Language.choices, default=Language.EN)
    # Follow-up send window, in each lead's own time zone.
    send_window_start = models.TimeField(default=dt.time(9, 0))
    send_window_end = models.TimeField(default=dt.time(17, 0))
    send_weekdays = models.CharField(max_length=13, default="0,1,2,3,4", validators=[weekday_list])
    response_target_hours = models.PositiveSmallIntegerField(default=24, validators=[MinValueValidator(1)])
    stale_after_days = models.PositiveSmallIntegerField(default=90, validators=[MinValueValidator(1)])
    # Retention (months; 0 = kept until erased by hand): a daily task anonymises what is due.
    retain_closed_months = models.PositiveSmallIntegerField(
        default=24, help_text=_("Anonymise a closed lead this many months after it closed (0: never).")
    )
    retain_inactive_months = models.PositiveSmallIntegerField(
        default=24, help_text=_("Anonymise a lead with no activity for this many months (0: never).")
    )
    retain_unsubscribed_months = models.PositiveSmallIntegerField(
        default=12, help_text=_("Anonymise a lead this many months after it unsubscribed (0: never).")
    )
    data_export_includes_notes = models.BooleanField(
        default=False, help_text=_("A person's download of their data includes recruiters' notes about them.")
    )
    # Round-robin ownership: each new lead takes the next turn (see services.intake).
    assignment_turn = models.PositiveBigIntegerField(default=0, editable=False)
    privacy_policy_url = models.URLField(
        max_length=500, blank=True, help_text=_("Linked from the public form's consent; empty: no link is shown.")
    )
    surge_multiple = models.DecimalField(
        max_digits=4, decimal_places=2, default=Decimal("1.5"), validators=[MinValueValidator(1)]
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(send_window_start__lt=models.F("send_window_end")),
                name="employer_send_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def from_email(self) -> str:
        if not self.sender_email:
            return settings.DEFAULT_FROM_EMAIL
        # formataddr quotes and encodes the name: a '"' or a comma in it cannot forge a second
        # address, and control characters (refused by the validators anyway) are dropped.
        name = " ".join((self.sender_name or self.name).split())
        return formataddr((name, self.sender_email))


class Role(models.TextChoices):
    RECRUITER = "recruiter", _("Recruiter")
    ADMIN = "admin", _("Admin")


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.RECRUITER)
    receives_assignments = models.BooleanField(
        default=True, help_text=_("Takes part in the round-robin assignment of new leads.")
    )
    # The round-robin cursor: the recruiter assigned longest ago is next.
    last_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["employer__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "employer"], name="membership_unique_user_employer"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.employer} ({self.get_role_display()})"


class Opening(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("opening status", "Open")
        CLOSED = "closed", pgettext_lazy("opening status", "Closed")

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="openings")
    title = models.CharField(max_length=200)
    team = models.CharField(max_length=120, blank=True)
    location = models.CharField(max_length=120, blank=True)
    visa_sponsorship = models.BooleanField(_("visa sponsorship offered"), default=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["title"]
        indexes = [models.Index(fields=["employer", "status"], name="opening_employer_status")]

    def __str__(self) -> str:
        return self.title


class ClosedReason(models.Model):
    """An employer-editable reason for closing a lead ("visa refused", "salary", ...)."""

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="closed_reasons")
    label = models.CharField(max_length=120)
    # Empty: the reason fits any closed stage.
    stage = models.CharField(
        max_length=16,
        blank=True,
        choices=[(s, Stage(s).label) for s in sorted(CLOSED_STAGES)],
        help_text=_("The closed stage this reason belongs to; empty for any."),
    )
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "label"]
        constraints = [
            models.UniqueConstraint(fields=["employer", "label"], name="closedreason_unique_label"),
            models.CheckConstraint(
                condition=Q(stage="") | Q(stage__in=sorted(CLOSED_STAGES)), name="closedreason_stage_closed"
            ),
        ]

    def __str__(self) -> str:
        return self.label

    def fits(self, stage: str) -> bool:
        return self.active and (not self.stage or self.stage == stage)


class Skill(models.Model):
    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="skills")
    name = models.CharField(max_length=60)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "employer", name="skill_unique_name_ci"),
        ]

    def __str__(self) -> str:
        return self.name


class Lead(models.Model):
    """One prospective migrant at one employer, unique on the normalised email."""

    # Every lead index starts with the employer: no separate one for the foreign key.
    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="leads", db_index=False)
    # Identity and contact
    name = models.CharField(max_length=200, validators=[single_line])
    email = models.EmailField(max_length=254, help_text=_("Stored normalised: trimmed and lower-case."))
    phone = models.CharField(max_length=20, blank=True, help_text=_("E.164, for example +64211234567."))
    current_country = CountryField(blank=True)
    current_city = models.CharField(max_length=120, blank=True)
    time_zone = models.CharField(
        max_length=64, blank=True, validators=[validate_time_zone], help_text=_("Asked, else derived from the country.")
    )
    # The language the person wrote in (the form's, the API's, the import's): emails to them use it.
    language = models.CharField(max_length=8, choices=Language.choices, blank=True,
                                help_text=_("Empty: the employer's default language."))
    profile_url = models.URLField(_("LinkedIn or portfolio URL"), max_length=500, blank=True)
    # Interest
    opening = models.ForeignKey(Opening, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads")
    role_of_interest = models.CharField(max_length=200, blank=True)
    years_experience = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(70)]
    )
    skills = models.ManyToManyField(Skill, blank=True, related_name="leads")
    # Relocation readiness
    needs_sponsorship = models.BooleanField(_("needs visa sponsorship"), null=True, blank=True)
    visa_pathway = models.CharField(max_length=24, choices=VisaPathway.choices, blank=True)
    earliest_move_date = models.DateField(null=True, blank=True)
    move_timeline = models.CharField(max_length=10, choices=MoveTimeline.choices, blank=True)
    relocating_with = models.CharField(max_length=10, choices=RelocatingWith.choices, blank=True)
    dependants = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(20)])
    partner_needs_work_rights = models.BooleanField(null=True, blank=True)
    credentials_to_recognise = models.TextField(
        _("credentials needing recognition"), blank=True, max_length=2000
    )
    motivation = models.TextField(blank=True, max_length=10_000)
    cv = models.FileField(_("CV"), upload_to="cvs/%Y/%m/", blank=True, max_length=300)
    # Where the lead came from
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.WEB_FORM)
    utm_source = models.CharField(max_length=120, blank=True)
    utm_medium = models.CharField(max_length=120, blank=True)
    utm_campaign = models.CharField(max_length=120, blank=True)
    utm_term = models.CharField(max_length=120, blank=True)
    utm_content = models.CharField(max_length=120, blank=True)
    # Pipeline
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_leads"
    )
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.NEW)
    # The furthest milestone reached, kept by the pipeline service so that the funnel counts
    # a lead that reached `offer` and later withdrew as having reached `offer`.
    furthest_stage = models.CharField(
        max_length=16, choices=[(s, Stage(s).label) for s in MILESTONES], default=Stage.NEW
    )
    closed_reason = models.ForeignKey(
        ClosedReason, null=True, blank=True, on_delete=models.PROTECT, related_name="leads"
    )
    # Consent and follow-ups
    privacy_accepted_at = models.DateTimeField(null=True, blank=True)
    legal_basis = models.CharField(
        max_length=24, choices=LegalBasis.choices, blank=True,
        help_text=_("Why we may hold and email this person; without one nothing is sent to them."),
    )
    marketing_opt_in = models.BooleanField(default=False)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    followups_paused = models.BooleanField(default=False)
    erased_at = models.DateTimeField(null=True, blank=True)
    # Set when the mail server refused the address for good; nothing more is sent to it.
    email_bounced_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Timestamps
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    first_contacted_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The first time the lead reached each milestone or one beyond it (a milestone skipped on the
    # way counts as reached then), and its first move into and out of `visa`: all kept from the
    # StageEvent history by the pipeline (leads/services/milestones.py), so the reports' medians
    # and visa waits read the lead's row instead of joining its history.
    reached_contacted_at = models.DateTimeField(null=True, blank=True, editable=False)
    reached_applied_at = models.DateTimeField(null=True, blank=True, editable=False)
    reached_interviewing_at = models.DateTimeField(null=True, blank=True, editable=False)
    reached_offer_at = models.DateTimeField(null=True, blank=True, editable=False)
    reached_hired_at = models.DateTimeField(null=True, blank=True, editable=False)
    reached_visa_at = models.DateTimeField(null=True, blank=True, editable=False)
    reached_relocated_at = models.DateTimeField(null=True, blank=True, editable=False)
    visa_entered_at = models.DateTimeField(null=True, blank=True, editable=False)
    visa_left_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_activity_at = models.DateTimeField(default=timezone.now, editable=False)
    stage_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["employer", "email"], name="lead_unique_email_per_employer"),
            models.CheckConstraint(condition=Q(email=Lower("email")), name="lead_email_lowercase"),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="lead_stage_valid"),
            models.CheckConstraint(
                condition=Q(furthest_stage__in=MILESTONES), name="lead_furthest_stage_milestone"
            ),
            models.CheckConstraint(
                condition=Q(source__in=Source.values), name="lead_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(closed_reason__isnull=True) | Q(stage__in=sorted(CLOSED_STAGES)),
                name="lead_closed_reason_only_when_closed",
            ),
        ]
        indexes = [
            # Keyset pagination of the list (newest first) and the created-range filter.
            models.Index(fields=["employer", "-created_at", "-id"], name="lead_emp_created"),
            # The id too: a stage's page in (created_at, id) order is read straight off the index.
            models.Index(fields=["employer", "stage", "-created_at", "-id"], name="lead_emp_stage_created"),
            models.Index(fields=["employer", "owner", "stage"], name="lead_emp_owner_stage"),
            models.Index(fields=["employer", "source", "-created_at"], name="lead_emp_source"),
            models.Index(fields=["employer", "current_country", "-created_at"], name="lead_emp_country"),
            models.Index(fields=["employer", "opening", "-created_at"], name="lead_emp_opening"),
            models.Index(fields=["employer", "move_timeline", "-created_at"], name="lead_emp_timeline"),
            models.Index(fields=["employer", "needs_sponsorship", "-created_at"], name="lead_emp_sponsor"),
            models.Index(fields=["employer", "furthest_stage", "-created_at"], name="lead_emp_furthest"),
            models.Index(fields=["employer", "last_activity_at"], name="lead_emp_last_activity"),
            models.Index(fields=["employer", "phone"], name="lead_emp_phone"),
            models.Index(fields=["employer", "profile_url"], name="lead_emp_profile_url"),
            models.Index(Lower("name"), "employer", "current_country", name="lead_emp_name_country"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    @property
    def is_closed(self) -> bool:
        return self.stage in CLOSED_STAGES

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The lead's own time zone: as asked, else from the current country, else UTC."""
        from leads.timezones import zone_for

        return zone_for(self.time_zone, self.current_country.code if self.current_country else "")

    def local_now(self) -> dt.datetime:
        return timezone.now().astimezone(self.zone)


class Citizenship(models.Model):
    """A lead may hold several citizenships; one row each, so reports can group by them."""

    TENANT_PATH = "lead__employer_id"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="citizenships")
    country = CountryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["lead", "country"], name="citizenship_unique")]
        indexes = [models.Index(fields=["country", "lead"], name="citizenship_country")]

    def __str__(self) -> str:
        return self.country.name


class PossibleDuplicate(models.Model):
    """Two leads of one employer that may be the same person, flagged for a recruiter to merge."""

    class Reason(models.TextChoices):
        PHONE = "phone", _("Same phone")
        PROFILE_URL = "profile_url", _("Same LinkedIn or portfolio URL")
        NAME_COUNTRY = "name_country", _("Same name and country")

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="possible_duplicates")
    other = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lead", "other", "reason"], name="possibleduplicate_unique"),
            models.CheckConstraint(condition=~Q(lead=models.F("other")), name="possibleduplicate_not_self"),
        ]
        indexes = [models.Index(fields=["employer", "dismissed_at"], name="possibledup_emp_open")]

    def __str__(self) -> str:
        return f"{self.lead_id} ~ {self.other_id} ({self.get_reason_display()})"


class Inquiry(models.Model):
    """One inbound message. A repeat inquiry from a known email joins the existing lead."""

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="inquiries", db_index=False)
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="inquiries")
    channel = models.CharField(max_length=16, choices=Source.choices)
    received_at = models.DateTimeField(default=timezone.now)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True, max_length=50_000)
    # Country of origin at the time of the inquiry: the basis of the surge report.
    country = CountryField(blank=True)
    is_repeat = models.BooleanField(default=False)
    raw_fields = models.JSONField(default=dict, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    # The SHA-256 of an imported CSV row: one inquiry per row and employer, however often (or
    # however concurrently) the file is imported.
    import_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    # The email of ours this one answers (by the lead's reply address or its In-Reply-To).
    in_reply_to = models.ForeignKey(
        "OutboundEmail", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )

    class Meta:
        verbose_name_plural = _("inquiries")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(channel__in=Source.values), name="inquiry_channel_valid"),
            models.UniqueConstraint(
                fields=["employer", "import_fingerprint"], condition=~Q(import_fingerprint=""),
                name="inquiry_unique_import_row",
            ),
        ]
        indexes = [
            models.Index(fields=["employer", "received_at"], name="inquiry_emp_received"),
            models.Index(fields=["employer", "country", "received_at"], name="inquiry_emp_country"),
            models.Index(fields=["lead", "-received_at"], name="inquiry_lead"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} inquiry {self.received_at:%Y-%m-%d %H:%M}"


class Submission(models.Model):
    """A public-form submission accepted and not yet (or already) turned into an inquiry.

    The form answers once this row is committed; a worker then calls the intake service. The id
    is the submission id: a spooled copy of the same submission can never be stored twice, and
    the intake transaction marks the row processed, so an inquiry comes of it exactly once.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PROCESSED = "processed", _("Processed")

    class Via(models.TextChoices):
        DATABASE = "database", _("Stored at once")
        REDIS = "redis", _("Spooled in Redis")
        DIRECTORY = "directory", _("Spooled on disk")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="submissions")
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    via = models.CharField(max_length=10, choices=Via.choices, default=Via.DATABASE)
    # What the form checked, as the intake service takes it (JSON: dates as ISO strings).
    data = models.JSONField(default=dict)
    raw_fields = models.JSONField(default=dict, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    privacy_accepted = models.BooleanField(default=False)
    # The CV's name in file storage, saved before this row (file storage needs no database).
    cv = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Set while a worker processes it, so that two workers never both take a recruiter's turn
    # for one submission; a worker that died leaves it to expire.
    claimed_until = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    inquiry = models.ForeignKey("Inquiry", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["pending", "processed"]), name="submission_status_valid"),
        ]
        indexes = [
            # The worker's sweep: only pending rows are indexed, so the index stays small.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="submission_pending"),
            models.Index(fields=["employer", "-received_at"], name="submission_emp_received"),
        ]

    def __str__(self) -> str:
        return f"Submission {self.pk} ({self.get_status_display()})"


class StageEvent(models.Model):
    """The append-only history of a lead's stage: reports are computed from it."""

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stage_events")
    from_stage = models.CharField(max_length=16, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=16, choices=Stage.choices)
    at = models.DateTimeField(default=timezone.now)
    # Null: the system moved the lead.
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField(blank=True, max_length=2000)
    closed_reason = models.ForeignKey(ClosedReason, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # When the row was written (``at`` may be back-dated): the API's event feed settles on it.
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    # When the lead left the stage this event entered: the ``at`` of its next event (None while it
    # is still there). Kept by the pipeline; the time-in-stage report reads it.
    left_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Moved by another system through the API: which key.
    api_key = models.ForeignKey("ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(to_stage__in=Stage.values), name="stageevent_to_valid"),
            models.CheckConstraint(
                condition=Q(from_stage="") | Q(from_stage__in=Stage.values), name="stageevent_from_valid"
            ),
            models.CheckConstraint(condition=~Q(from_stage=models.F("to_stage")), name="stageevent_moves"),
        ]
        indexes = [
            models.Index(fields=["lead", "at"], name="stageevent_lead_at"),
            models.Index(fields=["employer", "to_stage", "at"], name="stageevent_emp_to_at"),
            # The API's event feed: one employer's events after a cursor, in id order.
            models.Index(fields=["employer", "id"], name="stageevent_emp_id"),
        ]

    def __str__(self) -> str:
        return f"{self.from_stage or '—'} → {self.to_stage}"


class Note(models.Model):
    """A recruiter's note on a lead."""

    TENANT_PATH = "lead__employer_id"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(max_length=20_000)
    created_at = models.DateTimeField(default=timezone.now)
    # Written by another system through the API: which key.
    api_key = models.ForeignKey("ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["lead", "-created_at"], name="note_lead")]

    def __str__(self) -> str:
        return self.body[:60]


class ActivityKind(models.TextChoices):
    CALL = "call", pgettext_lazy("kind of activity", "Call")
    REPLY = "reply", _("Reply received")
    MESSAGE = "message", _("Message sent")
    MEETING = "meeting", _("Meeting")
    SYSTEM = "system", _("System event")


class Activity(models.Model):
    """Logged calls, replies and system events on a lead's timeline."""

    TENANT_PATH = "lead__employer_id"

    Kind = ActivityKind

    # Kinds that count as contact with the person, for response-time reporting.
    CONTACT_KINDS = frozenset({ActivityKind.CALL, ActivityKind.MESSAGE, ActivityKind.MEETING})

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    summary = models.CharField(max_length=300)
    details = models.TextField(blank=True, max_length=20_000)

    class Meta:
        verbose_name_plural = _("activities")
        ordering = ["-at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(kind__in=ActivityKind.values), name="activity_kind_valid")]
        indexes = [
            models.Index(fields=["lead", "-at"], name="activity_lead"),
            models.Index(fields=["lead", "kind"], name="activity_lead_kind"),
        ]

    def __str__(self) -> str:
        return self.summary


class ProfileChange(models.Model):
    """A value of a lead's profile that a repeat inquiry changed, or proposes to change.

    Applied changes keep the old value, so a recruiter can restore it; contact details from an
    unverified repeat inquiry never replace the recruiter's: they wait here as a proposal.
    """

    TENANT_PATH = "lead__employer_id"

    class Status(models.TextChoices):
        # Context: the same English as two stages (Applied, Declined), said here of a change.
        APPLIED = "applied", pgettext_lazy("profile change", "Applied")
        RESTORED = "restored", _("Old value restored")
        PROPOSED = "proposed", _("Proposed")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", pgettext_lazy("profile change", "Declined")

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="profile_changes")
    inquiry = models.ForeignKey(Inquiry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    field = models.CharField(max_length=64)
    # As JSON: text, numbers, booleans, dates as ISO strings, the opening as its id.
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["applied", "restored", "proposed", "accepted", "declined"]),
                name="profile_change_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["lead", "-at"], name="profile_change_lead")]

    def __str__(self) -> str:
        return f"{self.field}: {self.old_value!r} → {self.new_value!r} ({self.get_status_display()})"


class EmailTemplate(models.Model):
    class Kind(models.TextChoices):
        ACKNOWLEDGEMENT = "acknowledgement", _("Acknowledgement")
        FOLLOWUP = "followup", _("Follow-up step")
        ONE_OFF = "one_off", _("One-off email")
        STALE_CHECK = "stale_check", _("Still interested?")

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="email_templates")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.FOLLOWUP)
    subject = models.CharField(max_length=200, validators=[single_line])
    body_text = models.TextField(help_text=_("Plain-text part. Placeholders: {{ lead.name }}, {{ opening }}, "
                                             "{{ employer.name }}, {{ recruiter.name }}, {{ unsubscribe_url }}."))
    body_html = models.TextField(blank=True, help_text=_("Optional HTML part, same placeholders."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["employer", "name"], name="emailtemplate_unique_name")]
        indexes = [models.Index(fields=["employer", "kind"], name="emailtemplate_emp_kind")]

    def __str__(self) -> str:
        return self.name


class EmailTemplateTranslation(models.Model):
    """An email template in one more language: the lead's language picks it; without one the
    employer's default language (the template itself) is sent, and the timeline says so."""

    TENANT_PATH = "template__employer_id"

    template = models.ForeignKey(EmailTemplate, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(max_length=8, choices=Language.choices)
    subject = models.CharField(max_length=200, validators=[single_line])
    body_text = models.TextField(help_text=_("Plain-text part, with the same placeholders as the template."))
    body_html = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["template", "language"]
        constraints = [
            models.UniqueConstraint(fields=["template", "language"], name="emailtemplate_translation_once"),
            models.CheckConstraint(condition=Q(language__in=Language.values), name="emailtranslation_language_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.template} ({self.language})"


class Sequence(models.Model):
    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="sequences")
    name = models.CharField(max_length=120)
    active = models.BooleanField(default=True)
    # A lead that moves past this stage stops receiving the sequence.
    stop_after_stage = models.CharField(
        max_length=16, choices=[(s, Stage(s).label) for s in MILESTONES], default=Stage.CONTACTED
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["employer", "name"], name="sequence_unique_name")]

    def __str__(self) -> str:
        return self.name


class SequenceStep(models.Model):
    """One email of a sequence, sent a number of days after the inquiry or the previous step."""

    TENANT_PATH = "sequence__employer_id"

    class DelayFrom(models.TextChoices):
        INQUIRY = "inquiry", _("after the inquiry")
        PREVIOUS = "previous", _("after the previous step")

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    delay_days = models.PositiveSmallIntegerField(validators=[MaxValueValidator(365)])
    delay_from = models.CharField(max_length=10, choices=DelayFrom.choices, default=DelayFrom.PREVIOUS)
    template = models.ForeignKey(EmailTemplate, on_delete=models.PROTECT, related_name="steps")

    class Meta:
        ordering = ["sequence", "position"]
        constraints = [models.UniqueConstraint(fields=["sequence", "position"], name="sequencestep_unique_position")]

    def __str__(self) -> str:
        return f"{self.sequence} · step {self.position} (+{self.delay_days} d)"


class OutboundKind(models.TextChoices):
    ACKNOWLEDGEMENT = "acknowledgement", _("Acknowledgement")
    FOLLOWUP = "followup", _("Follow-up step")
    ONE_OFF = "one_off", _("One-off email")
    STALE_CHECK = "stale_check", _("Still interested?")
    NOTIFICATION = "notification", _("Recruiter notification")
    DIGEST = "digest", _("Daily digest")
    REPORT = "report", _("Weekly report")
    ALERT = "alert", _("Surge alert")
    DATA_LINK = "data_link", _("Link to their data")


class OutboundStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    SKIPPED = "skipped", _("Skipped")


class OutboundEmail(models.Model):
    """The outbox: one row per email to be sent; the unique key makes queueing idempotent."""

    Kind = OutboundKind

    Status = OutboundStatus

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="outbound_emails")
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="outbound_emails")
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    to_email = models.EmailField(max_length=254)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    template = models.ForeignKey(EmailTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    step = models.ForeignKey(SequenceStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The recruiter who wrote it (a one-off email from the lead's page): their name is the sender's.
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The language it was written in (the lead's, or the employer's default when the template has
    # no translation in the lead's); empty for emails to recruiters and admins.
    language = models.CharField(max_length=8, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    unique_key = models.CharField(max_length=200, unique=True, help_text=_("For example lead:42:step:7."))
    message_id = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=OutboundStatus.choices, default=OutboundStatus.SCHEDULED)
    status_reason = models.CharField(max_length=300, blank=True)
    scheduled_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("outbound email")
        ordering = ["-scheduled_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=OutboundStatus.values), name="outboundemail_status_valid"),
            models.CheckConstraint(condition=Q(kind__in=OutboundKind.values), name="outboundemail_kind_valid"),
        ]
        indexes = [
            # The worker's sweep: due rows by status and time.
            models.Index(fields=["status", "scheduled_at"], name="outbound_status_due"),
            models.Index(fields=["employer", "status", "scheduled_at"], name="outbound_emp_status_due"),
            models.Index(fields=["lead", "scheduled_at"], name="outbound_lead"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.to_email} ({self.status})"


class MarkedEvent(models.Model):
    """An external event (an election, a news story, a job fair) shown on the surge timeline."""

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="marked_events")
    date = models.DateField()
    label = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-date"]
        indexes = [models.Index(fields=["employer", "date"], name="markedevent_emp_date")]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.label}"


class WorkerHeartbeat(models.Model):
    """Written by a periodic task: shows that celery beat and a worker are alive."""

    name = models.CharField(max_length=60, unique=True)
    beat_at = models.DateTimeField()
    hostname = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"


class ApiKey(models.Model):
    """A secret that lets another system (a careers site, an ATS) send inquiries to one employer.

    Only a hash of the key is stored; the key itself is shown once, when it is created.
    """

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=120, help_text=_("Who uses this key, e.g. “careers site”."))
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # What the key may do (docs/api.md): a careers site needs only intake; a data warehouse
    # read; an HRIS or a bot read and write.
    scope_intake = models.BooleanField(
        _("intake"), default=True, help_text=_("Send inquiries (POST /inquiries) and list the open openings.")
    )
    scope_read = models.BooleanField(
        _("read"), default=False, help_text=_("Read leads with their personal data, inquiries and stage history.")
    )
    scope_write = models.BooleanField(
        _("write"), default=False, help_text=_("Move leads through the pipeline and add notes.")
    )

    class Meta:
        verbose_name = _("API key")
        ordering = ["employer__name", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def scopes(self) -> list[str]:
        return [name for name in ApiScope.values if getattr(self, f"scope_{name}")]


class ApiScope(models.TextChoices):
    INTAKE = "intake", _("Intake")
    READ = "read", _("Read")
    WRITE = "write", _("Write")


class IdempotencyRecord(models.Model):
    """The first answer to a POST that carried an ``Idempotency-Key``, kept for a day.

    While ``status_code`` is null the first request is still running: a second one with the key
    waits for it (409 if it is still running). The body's hash tells a retry (same body) from a
    mistake (another body under the same key: 422).
    """

    TENANT_PATH = "employer_id"

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="+", db_index=False)
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    body_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_per_api_key")]
        indexes = [models.Index(fields=["expires_at"], name="idempotency_expiry")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key[:40]}] → {self.status_code or 'running'}"


class WebhookEvent(models.TextChoices):
    INQUIRY_RECEIVED = "inquiry.received", _("inquiry.received: an inquiry was recorded")
    LEAD_CREATED = "lead.created", _("lead.created: a new lead")
    LEAD_STAGE_CHANGED = "lead.stage_changed", _("lead.stage_changed: a lead moved in the pipeline")
    LEAD_ERASED = "lead.erased", _("lead.erased: a person's data was erased")


class WebhookEndpoint(models.Model):
    """A URL of another system that is told about events, signed with its own secret."""

    TENANT_PATH = "employer_id"

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField("URL", max_length=500, help_text=_("https:// only; never an internal address."))
    description = models.CharField(max_length=120, blank=True, help_text=_("Who receives it, e.g. “HRIS sync”."))
    events = models.JSONField(default=list, help_text=_("The event types sent to this URL."))
    secret = models.CharField(max_length=80, editable=False, help_text=_("Signs every delivery (HMAC-SHA256)."))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # The first failure since the last success: failing for a day disables the endpoint.
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=300, blank=True, editable=False)

    class Meta:
        verbose_name = _("webhook endpoint")
        ordering = ["employer__name", "url", "id"]
        indexes = [models.Index(fields=["employer", "is_active"], name="webhook_emp_active")]

    def __str__(self) -> str:
        return self.description or self.url


class WebhookDeliveryStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class WebhookDelivery(models.Model):
    """One event for one endpoint: written in the transaction of the event, sent by the worker.

    ``body`` is the exact JSON sent (and signed) on every attempt.
    """

    TENANT_PATH = "employer_id"

    Status = WebhookDeliveryStatus

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="+", db_index=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(default=uuid.uuid4)
    event_type = models.CharField(max_length=32, choices=WebhookEvent.choices)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=WebhookDeliveryStatus.choices,
                              default=WebhookDeliveryStatus.SCHEDULED)
    status_reason = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    scheduled_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response = models.TextField(blank=True, help_text=_("The start of the receiver's last answer."))
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once"),
            models.CheckConstraint(condition=Q(status__in=WebhookDeliveryStatus.values),
                                   name="webhookdelivery_status_valid"),
        ]
        indexes = [
            models.Index(fields=["status", "scheduled_at"], name="webhook_status_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_endpoint_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"


class MergedLead(models.Model):
    """A lead merged into another: its old address keeps leading to the one that stayed."""

    TENANT_PATH = "employer_id"

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="+")
    merged_id = models.PositiveBigIntegerField(unique=True, help_text=_("The id the merged lead had."))
    kept = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="merged_from")
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")

    def __str__(self) -> str:
        return f"{self.merged_id} → {self.kept_id}"


class Task(models.Model):
    """A next step on a lead: a title, a moment it is due, an owner; done or still open."""

    TENANT_PATH = "employer_id"

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="tasks", db_index=False)
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200, validators=[single_line])
    due_at = models.DateTimeField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    note = models.TextField(blank=True, max_length=5000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    snoozed = models.PositiveSmallIntegerField(default=0, help_text=_("How many times it was put off."))
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            # A recruiter's open tasks by due time: /tasks/, the dashboard, the digest.
            models.Index(fields=["owner", "due_at"], condition=Q(done_at__isnull=True), name="task_open_owner_due"),
            models.Index(fields=["employer", "due_at"], condition=Q(done_at__isnull=True), name="task_open_emp_due"),
            models.Index(fields=["lead", "done_at"], name="task_lead"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_done(self) -> bool:
        return self.done_at is not None


class SavedView(models.Model):
    """Lead list filters kept under a name: the owner's own, or shared with the employer."""

    TENANT_PATH = "employer_id"

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="saved_views")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=80, validators=[single_line])
    # The list's query string, as the filter form reads it (validated when saved and when used).
    query = models.CharField(max_length=2000, blank=True)
    shared = models.BooleanField(default=False, help_text=_("Shown to everyone at the employer."))
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["employer", "owner", "name"], name="saved_view_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class ImportJob(models.Model):
    """A CSV import run by a Celery task; its counters are the progress bar in admin."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        DONE = "done", pgettext_lazy("import status", "Done")
        FAILED = "failed", _("Failed")

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=300)
    file_name = models.CharField(max_length=200)
    # What the importer chose for every row: why the employer may email these people.
    legal_basis = models.CharField(max_length=24, choices=LegalBasis.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    joined = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    # [{"row": 12, "field": "phone", "message": "..."}]
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done", "failed"]), name="import_job_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()}, {self.rows_done}/{self.rows_total})"


class PrivacyPolicy(models.Model):
    """One version of an employer's privacy policy, with the consent wording the form shows."""

    TENANT_PATH = "employer_id"

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="privacy_policies")
    version = models.CharField(max_length=40, validators=[single_line], help_text=_("For example 2026-11."))
    url = models.URLField(max_length=500, blank=True, help_text=_("Where the full policy is published."))
    text = models.TextField(blank=True, max_length=50_000, help_text=_("The policy, or its summary."))
    inquiry_wording = models.CharField(
        max_length=500, default="I agree that my details are stored to handle my inquiry.",
        help_text=_("The consent to handling the inquiry, as the form shows it."),
    )
    news_wording = models.CharField(
        max_length=500, default="Send me news about other openings.",
        help_text=_("The consent to news about openings, as the form shows it."),
    )
    effective_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = _("privacy policies")
        ordering = ["-effective_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["employer", "version"], name="privacy_policy_unique_version"),
        ]

    def __str__(self) -> str:
        return f"{self.employer} · {self.version}"


class ConsentPurpose(models.TextChoices):
    INQUIRY = "inquiry", _("Handling the inquiry")
    NEWS = "news", _("News about other openings")


class Consent(models.Model):
    """One consent given or withdrawn: append-only; the latest row per purpose is what holds."""

    TENANT_PATH = "employer_id"

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="+", db_index=False)
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(max_length=10, choices=ConsentPurpose.choices)
    granted = models.BooleanField(help_text=_("True: given; False: withdrawn."))
    policy = models.ForeignKey(PrivacyPolicy, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    wording = models.TextField(blank=True, help_text=_("Exactly what the person was shown, or what was recorded."))
    channel = models.CharField(max_length=20, help_text=_("web_form, api, import, manual, unsubscribe link, …"))
    at = models.DateTimeField(default=timezone.now)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(purpose__in=ConsentPurpose.values), name="consent_purpose_valid"),
        ]
        indexes = [models.Index(fields=["lead", "purpose", "-at"], name="consent_lead_purpose")]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()}: {'given' if self.granted else 'withdrawn'} {self.at:%Y-%m-%d}"


class AuditAction(models.TextChoices):
    VIEWED = "viewed", _("Viewed")
    CHANGED = "changed", _("Changed")
    EXPORTED = "exported", _("Exported")
    ERASED = "erased", _("Erased")
    MERGED = "merged", _("Merged")
    REPORT_EXPORTED = "report_exported", _("Report exported")
    LOGIN = "login", _("Logged in")


class AuditEvent(models.Model):
    """Who viewed, changed, exported or erased a lead: append-only (rows are never changed or
    deleted by the app; admin shows them read-only). The lead is an id, not a foreign key, so
    the record outlives a merge or an erasure."""

    TENANT_PATH = "employer_id"

    employer = models.ForeignKey(Employer, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                                 db_index=False)
    lead_id = models.PositiveBigIntegerField(null=True, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    username = models.CharField(max_length=150, blank=True, help_text=_("As it was when the row was written."))
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    detail = models.CharField(max_length=500, blank=True, help_text=_("Which page, fields or export; never values."))
    at = models.DateTimeField(default=timezone.now)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(action__in=AuditAction.values), name="audit_action_valid"),
        ]
        indexes = [
            # One lead's history (the employer first, as every lead index); the employer's log by
            # time; one user's actions.
            models.Index(fields=["employer", "lead_id", "-at"], name="audit_emp_lead"),
            models.Index(fields=["employer", "-at"], name="audit_emp_at"),
            models.Index(fields=["employer", "user", "-at"], name="audit_emp_user"),
        ]

    def __str__(self) -> str:
        return f"{self.username or 'system'} {self.action} {self.lead_id or ''} {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("Audit rows are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit rows are append-only.")


class UserPreference(models.Model):
    """A person's own settings in the recruiter UI."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    time_zone = models.CharField(
        max_length=64, blank=True, validators=[validate_time_zone],
        help_text=_("Times in the recruiter UI are shown in this zone; empty: the employer's."),
    )
    # The recruiter UI's language (settings.LANGUAGES); empty: the browser's.
    language = models.CharField(max_length=8, blank=True)

    def __str__(self) -> str:
        return f"{self.user} · {self.time_zone or 'employer time zone'}"
