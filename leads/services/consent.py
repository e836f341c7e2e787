"""Consent per purpose: handling the inquiry, and news about other openings.

Every consent given or withdrawn is a ``Consent`` row (append-only): the purpose, the policy
version in force, the exact wording the person saw (or what was recorded for them), the
channel, when, and from which address. The latest row per purpose is what holds.

``Lead.marketing_opt_in`` is the cached answer to "does a news consent hold?": it is written
in the same transaction as every news row, by ``consent_record`` only, so the flag and the
rows never disagree. Any email that is news about openings (there is none yet) must check
``consent_holds(lead, ConsentPurpose.NEWS)`` (or the flag, in a bulk query) before it is
queued and again before it is sent (``outbox.lead_send_stop``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from leads import profile
from leads.i18n import stored_text
from leads.models import Consent, ConsentPurpose, Lead, PrivacyPolicy, Source, display_name

# What the form said before an employer published a policy version: kept, so that a lead of an
# employer without one still has the words it was shown.
DEFAULT_INQUIRY_WORDING = "I agree that my details are stored to handle my inquiry."
DEFAULT_NEWS_WORDING = profile.BY_NAME["marketing_opt_in"].question
UNSUBSCRIBE_CHANNEL = "unsubscribe link"


@dataclass(frozen=True)
class ConsentShown:
    """What a channel put in front of the person: the policy version and the exact wording of
    each consent. Hashable and JSON-friendly: it travels in a submission's data."""

    policy_id: int | None
    inquiry_wording: str
    news_wording: str

    def as_json(self) -> dict[str, object]:
        return {"policy_id": self.policy_id, "inquiry_wording": self.inquiry_wording,
                "news_wording": self.news_wording}

    @classmethod
    def from_json(cls, data: object) -> ConsentShown | None:
        if not isinstance(data, dict):
            return None
        policy_id = data.get("policy_id")
        return cls(policy_id=policy_id if isinstance(policy_id, int) else None,
                   inquiry_wording=str(data.get("inquiry_wording") or ""),
                   news_wording=str(data.get("news_wording") or ""))


# --- policy versions ----------------------------------------------------------------------


def policy_current(employer_id: int, *, at: dt.datetime | None = None) -> PrivacyPolicy | None:
    """The version in force: the latest whose effective time has come."""
    return (PrivacyPolicy.objects.filter(employer_id=employer_id, effective_at__lte=at or timezone.now())
            .order_by("-effective_at", "-id").first())


def policy_next_effective_at(employer_id: int, *, after: dt.datetime) -> dt.datetime | None:
    """When the next published version takes effect (None: none is waiting)."""
    return (PrivacyPolicy.objects.filter(employer_id=employer_id, effective_at__gt=after)
            .order_by("effective_at").values_list("effective_at", flat=True).first())


def policy_check(policy: PrivacyPolicy) -> None:
    """A version must be named and must say what each consent is: the form shows the wording
    and every consent row cites it. Raises ValidationError."""
    errors = {}
    for name in ("version", "inquiry_wording", "news_wording"):
        if not " ".join(str(getattr(policy, name) or "").split()):
            errors[name] = gettext("This field cannot be blank.")
    if errors:
        raise ValidationError(errors)


def privacy_policy_save(*, policy: PrivacyPolicy) -> PrivacyPolicy:
    """Publish or correct a version (admin). The public form shows the version in force from the
    next request: its cached snapshot is dropped now and again after commit. A version dated
    ahead takes effect by itself (selectors/public.py keeps the snapshot no longer than that)."""
    policy_check(policy)
    with transaction.atomic():
        policy.save()
        employer_id = policy.employer_id
        transaction.on_commit(lambda: _public_page_forget(employer_id))
    _public_page_forget(employer_id)
    return policy


def privacy_policy_delete(*, policy: PrivacyPolicy) -> None:
    """Only a version no consent cites can go (the foreign key protects the others)."""
    employer_id = policy.employer_id
    with transaction.atomic():
        policy.delete()
        transaction.on_commit(lambda: _public_page_forget(employer_id))
    _public_page_forget(employer_id)


def policy_is_cited(policy: PrivacyPolicy) -> bool:
    return policy.pk is not None and Consent.objects.filter(policy_id=policy.pk).exists()


def _public_page_forget(employer_id: int) -> None:
    from leads.models import Employer
    from leads.selectors.public import public_page_forget

    slug = Employer.objects.filter(pk=employer_id).values_list("slug", flat=True).first()
    public_page_forget(slug or "")


def shown_for_channel(employer_id: int, *, inquiry_wording: str, news_wording: str,
                      at: dt.datetime | None = None) -> ConsentShown:
    """For a channel that shows no wording of ours (the API, a recruiter): the version in
    force, with what the channel says happened."""
    policy = policy_current(employer_id, at=at)
    return ConsentShown(policy_id=policy.pk if policy else None, inquiry_wording=inquiry_wording,
                        news_wording=news_wording)


# --- rows ---------------------------------------------------------------------------------


def consent_record(
    *,
    lead: Lead,
    purpose: str,
    granted: bool,
    wording: str,
    channel: str,
    policy_id: int | None = None,
    at: dt.datetime | None = None,
    remote_addr: str | None = None,
    recorded_by=None,
) -> Consent:
    """Append one consent given or withdrawn. A news row updates ``lead.marketing_opt_in`` in
    the same transaction (the caller's, or one of its own)."""
    if purpose not in ConsentPurpose.values:
        raise ValidationError({"purpose": gettext("Unknown consent purpose %(purpose)s.") % {"purpose": repr(purpose)}})
    with transaction.atomic(savepoint=False):
        row = Consent.objects.create(
            employer_id=lead.employer_id, lead=lead, purpose=purpose, granted=granted, policy_id=policy_id,
            wording=wording, channel=channel[:20], at=at or timezone.now(), remote_addr=remote_addr or None,
            recorded_by=recorded_by,
        )
        if purpose == ConsentPurpose.NEWS:
            # By the row, not by this instance's value: it may have been read before a change.
            Lead.objects.filter(pk=lead.pk).exclude(marketing_opt_in=granted).update(marketing_opt_in=granted)
            lead.marketing_opt_in = granted
    return row


def consent_withdraw(*, lead: Lead, purpose: str, channel: str, wording: str = "", at: dt.datetime | None = None,
                     remote_addr: str | None = None, recorded_by=None) -> Consent:
    """The person withdrew a consent: a row too (granted=False); it holds from now on."""
    return consent_record(lead=lead, purpose=purpose, granted=False, wording=wording or "withdrawn",
                          channel=channel, at=at, remote_addr=remote_addr, recorded_by=recorded_by)


def consent_holds(lead: Lead, purpose: str) -> bool:
    """Whether the person's latest word on this purpose is yes (and their data still exists)."""
    if lead.erased_at:
        return False
    latest = (Consent.objects.filter(lead_id=lead.pk, purpose=purpose).order_by("-at", "-id")
              .values_list("granted", flat=True).first())
    return bool(latest)


def consents_on_intake(
    *,
    lead: Lead,
    channel: str,
    at: dt.datetime,
    privacy_accepted: bool,
    news: bool,
    legal_basis: str,
    shown: ConsentShown | None,
    remote_addr: str | None,
    actor,
) -> None:
    """Inside the intake transaction: what this inquiry consented to. Not ticking news again
    on a later inquiry withdraws nothing; only a withdrawal does."""
    from leads.models import LegalBasis

    in_person = legal_basis == LegalBasis.CONSENT_IN_PERSON and actor is not None
    if not (privacy_accepted or news or in_person):
        return
    if shown is None:
        shown = _shown_by_default(lead.employer_id, channel=channel, at=at, actor=actor, in_person=in_person)
    common = {"lead": lead, "channel": channel, "policy_id": shown.policy_id, "at": at, "remote_addr": remote_addr,
              "recorded_by": actor if channel == Source.MANUAL or in_person else None}
    if privacy_accepted or in_person:
        consent_record(purpose=ConsentPurpose.INQUIRY, granted=True, wording=shown.inquiry_wording, **common)
    if news:
        consent_record(purpose=ConsentPurpose.NEWS, granted=True, wording=shown.news_wording, **common)


def _shown_by_default(employer_id: int, *, channel: str, at: dt.datetime, actor, in_person: bool) -> ConsentShown:
    """A channel that did not say what it showed: say what we know, never a wording we did not show."""
    if in_person:
        who = display_name(actor)
        return shown_for_channel(employer_id, at=at, inquiry_wording=f"given in person, recorded by {who}",
                                 news_wording=f"news about openings agreed in person, recorded by {who}")
    if channel == Source.WEB_FORM:
        # A submission sent before the form said which version it showed: the form's wording then.
        return ConsentShown(None, DEFAULT_INQUIRY_WORDING, DEFAULT_NEWS_WORDING)
    with stored_text():
        label = str(Source(channel).label) if channel in Source.values else channel
    return shown_for_channel(employer_id, at=at, inquiry_wording=f"privacy terms accepted ({label})",
                             news_wording=f"news about openings agreed ({label})")


__all__ = [
    "DEFAULT_INQUIRY_WORDING", "DEFAULT_NEWS_WORDING", "UNSUBSCRIBE_CHANNEL", "ConsentShown", "consent_holds",
    "consent_record", "consent_withdraw", "consents_on_intake", "policy_check", "policy_current",
    "policy_is_cited", "policy_next_effective_at", "privacy_policy_delete", "privacy_policy_save",
    "shown_for_channel",
]
