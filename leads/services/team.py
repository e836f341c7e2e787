"""An employer's team: invitations, roles, round-robin and removal, done by the employer's admins.

Tenancy: every function acts on one employer's membership and never on another employer's. A
user is shared between employers, so what belongs to the user (password, active flag, staff flag)
changes only where no other employer is affected: a password only through the person's own
invitation link, the active flag only when this was their last employer.

Invitation links are signed (TimestampSigner) over the user, the employer and a fingerprint of
the user's password hash: setting the password changes the hash, so a link works once; it
expires after RELOCATE_TEAM_INVITE_DAYS (7 by default).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import BaseUserManager
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from leads.emails import user_language
from leads.models import (
    CLOSED_STAGES,
    Employer,
    Lead,
    Membership,
    OutboundKind,
    Role,
    Task,
    UserPreference,
    display_name,
)
from leads.ratelimit import rate_limit_hit
from leads.services.outbox import email_queue

User = get_user_model()

_SALT = "relocate.team-invite"
_USERNAME_UNSAFE = re.compile(r"[^\w.@+-]")


def invite_days() -> int:
    return getattr(settings, "RELOCATE_TEAM_INVITE_DAYS", 7)


def invites_per_hour() -> int:
    return getattr(settings, "RELOCATE_TEAM_INVITES_PER_HOUR", 50)


# --- who may act --------------------------------------------------------------------------


def admin_employer_ids(user) -> set[int]:
    """The employers whose team the user manages: those they are an admin of; all for a superuser."""
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return set(Employer.objects.values_list("pk", flat=True))
    return set(Membership.objects.filter(user_id=user.pk, role=Role.ADMIN).values_list("employer_id", flat=True))


def _require_admin(by, employer_id: int) -> None:
    if by.is_superuser:
        return
    if not Membership.objects.filter(user_id=by.pk, employer_id=employer_id, role=Role.ADMIN).exists():
        raise ValidationError(_("Only an admin of this employer can change its team."))


# --- invitation links ---------------------------------------------------------------------


def _fingerprint(user) -> str:
    # Changes when the password does (set at acceptance): the link then stops working.
    return salted_hmac(_SALT, f"{user.pk}:{user.password}:{user.is_active}").hexdigest()[:20]


def invite_token(*, user, employer_id: int) -> str:
    return signing.TimestampSigner(salt=_SALT).sign_object({"u": user.pk, "e": employer_id, "f": _fingerprint(user)})


def invite_url(token: str) -> str:
    return settings.SITE_URL + reverse("leads:team_invite_accept", args=[token])


@dataclasses.dataclass(frozen=True)
class InviteReading:
    """What an invitation link says. ``problem``: "" (usable), "invalid", "expired" or "used"."""

    problem: str
    user: object | None = None
    employer: Employer | None = None

    @property
    def valid(self) -> bool:
        return not self.problem


def invite_read(token: str) -> InviteReading:
    """Never raises: an altered, foreign or malformed token reads as invalid."""
    signer = signing.TimestampSigner(salt=_SALT)
    token = (token or "")[:500]
    try:
        value = signer.unsign_object(token, max_age=dt.timedelta(days=invite_days()))
        expired = False
    except signing.SignatureExpired:
        value, expired = signer.unsign_object(token), True
    except (signing.BadSignature, ValueError, TypeError):
        return InviteReading("invalid")
    if not isinstance(value, dict) or not isinstance(value.get("u"), int) or not isinstance(value.get("e"), int):
        return InviteReading("invalid")
    membership = (
        Membership.objects.filter(user_id=value["u"], employer_id=value["e"]).select_related("user", "employer").first()
    )
    if membership is None:
        # Removed from the team since: the link opens nothing.
        return InviteReading("invalid")
    user = membership.user
    if value.get("f") != _fingerprint(user) or not _needs_acceptance(user):
        return InviteReading("used", user, membership.employer)
    if expired:
        return InviteReading("expired", user, membership.employer)
    return InviteReading("", user, membership.employer)


def _needs_acceptance(user) -> bool:
    """A person who has never set a password, or whose account we switched off when they left
    their last employer: they come in through an invitation link."""
    return not user.has_usable_password() or not user.is_active


# --- invite ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class InviteResult:
    membership: Membership
    created_user: bool
    link_sent: bool  # False: an existing account, told by email that it has access now


def team_invite(*, employer: Employer, email: str, role: str, by, first_name: str = "",
                last_name: str = "") -> InviteResult:
    """Add a person to the employer's team and email them.

    A new address gets an inactive user with no usable password and a link to set one. An
    existing user keeps their account as it is (no password change) and gets the membership and
    an email saying so; if they have not accepted an earlier invitation yet, the email carries a
    fresh link."""
    email = _clean_email(email)
    _check_role(role)
    first_name, last_name = (" ".join(str(first_name or "").split())[:150],
                             " ".join(str(last_name or "").split())[:150])
    _require_admin(by, employer.pk)
    existing = list(User.objects.filter(email__iexact=email).order_by("pk")[:2])
    if len(existing) > 1:
        raise ValidationError(_("Several accounts use %(email)s; ask a platform admin to sort them out first.")
                              % {"email": email})
    user = existing[0] if existing else None
    if user is not None:
        _check_can_join(user, employer)
    _count_invite(employer)
    try:
        return _invite_write(employer=employer, email=email, role=role, by=by, user=user,
                             first_name=first_name, last_name=last_name)
    except IntegrityError:
        # The same person invited twice at the same moment: the other request added them.
        raise ValidationError(
            _("%(email)s was just invited by someone else; reload the page.") % {"email": email}) from None


def _invite_write(*, employer: Employer, email: str, role: str, by, user, first_name: str,
                  last_name: str) -> InviteResult:
    with transaction.atomic(durable=True):
        created = user is None
        if created:
            user = User(username=_free_username(email), email=email, first_name=first_name, last_name=last_name,
                        is_active=False, is_staff=role == Role.ADMIN)
            user.set_unusable_password()
            user.save()
        elif role == Role.ADMIN and not user.is_staff:
            # Admins configure their employer in Django admin too.
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        membership = Membership.objects.create(user=user, employer=employer, role=role)
        link = _needs_acceptance(user)
        _queue_invite_email(membership=membership, by=by, with_link=link)
    return InviteResult(membership=membership, created_user=created, link_sent=link)


def team_invite_resend(*, membership: Membership, by) -> None:
    """A fresh link for someone who has not accepted yet (the older links keep working until
    they expire or the password is set)."""
    _require_admin(by, membership.employer_id)
    if not _needs_acceptance(membership.user):
        raise ValidationError(_("%(name)s has already accepted; they log in as usual.")
                              % {"name": display_name(membership.user)})
    if membership.user.has_usable_password() and _other_memberships(membership.user, membership.employer_id):
        raise ValidationError(_switched_off(membership.user))
    _count_invite(membership.employer)
    with transaction.atomic(durable=True):
        _queue_invite_email(membership=membership, by=by, with_link=True)


def _clean_email(email: str) -> str:
    email = BaseUserManager.normalize_email(str(email or "").strip())
    if len(email) > 254:
        raise ValidationError({"email": _("An email address has at most 254 characters.")})
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid email address.")}) from None
    return email


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError({"role": _("Choose recruiter or admin.")})


def _check_can_join(user, employer: Employer) -> None:
    if Membership.objects.filter(user=user, employer=employer).exists():
        raise ValidationError(_("%(email)s is already on the team of %(employer)s.")
                              % {"email": user.email, "employer": employer.name})
    if user.has_usable_password() and not user.is_active and _other_memberships(user, employer.pk):
        raise ValidationError(_switched_off(user))


def _switched_off(user) -> str:
    # Another employer (or a platform admin) switched the account off: not ours to switch back on.
    return (_("The account of %(email)s is switched off; a platform admin must switch it on first.")
            % {"email": user.email})


def _count_invite(employer: Employer) -> None:
    if not rate_limit_hit("team-invite", str(employer.pk), limit=invites_per_hour(), window=3600):
        raise ValidationError(
            _("%(employer)s has sent %(count)s invitations in the last hour; try again later.")
            % {"employer": employer.name, "count": invites_per_hour()},
            code="rate_limited",
        )


def _free_username(email: str) -> str:
    """The email as username (the characters Django's username validator allows), made unique."""
    base = _USERNAME_UNSAFE.sub("_", email.lower())[:140]
    taken = set(User.objects.filter(username__startswith=base).values_list("username", flat=True))
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _queue_invite_email(*, membership: Membership, by, with_link: bool) -> None:
    user, employer = membership.user, membership.employer
    context = {
        "user": user, "employer": employer, "role": membership.role,
        "by": display_name(by), "days": invite_days(),
        "link": invite_url(invite_token(user=user, employer_id=employer.pk)) if with_link else "",
        "login_url": settings.SITE_URL + reverse("login"),
    }
    with translation.override(invite_language(user, by)):
        if with_link:
            subject = _("You are invited to join %(employer)s on Relocate") % {"employer": employer.name}
            body = render_to_string("emails/invite.txt", context)
        else:
            subject = _("You now have access to %(employer)s on Relocate") % {"employer": employer.name}
            body = render_to_string("emails/invite_added.txt", context)
        language = translation.get_language()
    email_queue(
        employer=employer, kind=OutboundKind.NOTIFICATION, to_user=user, to_email=user.email,
        unique_key=f"team:{employer.pk}:invite:{user.pk}:{uuid.uuid4().hex}",
        subject=subject[:300], body_text=body, language=language,
    )


def invite_language(user, by) -> str:
    """The language of an invitation: the person's own choice when they have an account that
    saved one, else the language of whoever invites them, else the default (English)."""
    own = UserPreference.objects.filter(user_id=user.pk).values_list("language", flat=True).first()
    return own if own in settings.RECRUITER_LANGUAGES else user_language(by)


# --- accept ---------------------------------------------------------------------------------


def team_invite_accept(*, token: str, password: str):
    """Set the invited person's password (already checked by the password validators) and switch
    the account on. The link is read again under a row lock, so that two tabs cannot both use it."""
    with transaction.atomic(durable=True):
        reading = invite_read(token)
        if not reading.valid:
            raise ValidationError(_("This invitation link can no longer be used."), code=reading.problem)
        user = User.objects.select_for_update().get(pk=reading.user.pk)
        if _fingerprint(user) != _fingerprint(reading.user):
            raise ValidationError(_("This invitation link can no longer be used."), code="used")
        user.set_password(password)
        user.is_active = True
        user.save(update_fields=["password", "is_active"])
    return user


# --- roles, round-robin, removal ---------------------------------------------------------------


def _lock_admins(employer_id: int) -> list[Membership]:
    """The employer's admin memberships, locked in id order: two admins demoting each other at
    once take turns, and the second sees that the first is no longer an admin."""
    return list(
        Membership.objects.select_for_update(of=("self",))
        .filter(employer_id=employer_id, role=Role.ADMIN)
        .select_related("user")
        .order_by("pk")
    )


def _keeps_an_admin(admins: list[Membership], leaving: Membership, employer: Employer) -> None:
    if not any(m.pk != leaving.pk and m.user.is_active for m in admins):
        raise ValidationError(
            _("%(employer)s needs at least one admin who can log in: make someone else an admin first.")
            % {"employer": employer.name}
        )


def team_member_set_role(*, membership: Membership, role: str, by) -> bool:
    """Change one membership's role; False when it already had it. Staff status (Django admin)
    follows: given with the admin role, taken back when no admin role is left anywhere."""
    _check_role(role)
    _require_admin(by, membership.employer_id)
    if membership.user_id == by.pk:
        raise ValidationError(_("You cannot change your own role; ask another admin."))
    with transaction.atomic(durable=True):
        admins = _lock_admins(membership.employer_id)
        current = Membership.objects.select_for_update().get(pk=membership.pk)
        if current.role == role:
            return False
        if current.role == Role.ADMIN:
            _keeps_an_admin(admins, current, membership.employer)
        current.role = role
        current.save(update_fields=["role"])
        membership.role = role
        _staff_follows_roles(membership.user)
    return True


def team_member_set_round_robin(*, membership: Membership, on: bool, by) -> bool:
    """Whether the member takes turns for new leads; False when unchanged."""
    _require_admin(by, membership.employer_id)
    with transaction.atomic(durable=True):
        changed = Membership.objects.filter(pk=membership.pk).exclude(receives_assignments=on).update(
            receives_assignments=on
        )
    membership.receives_assignments = on
    return bool(changed)


@dataclasses.dataclass(frozen=True)
class RemoveResult:
    user_deactivated: bool  # False: they still work for another employer (or are a platform admin)
    open_leads: int  # still theirs: an admin gives them a new owner, nothing is reassigned silently
    open_tasks: int


def team_member_remove(*, membership: Membership, by) -> RemoveResult:
    """Take the person off this employer's team. The account is switched off only when this was
    their last employer; their open leads and tasks keep them as owner until someone reassigns them."""
    _require_admin(by, membership.employer_id)
    if membership.user_id == by.pk:
        raise ValidationError(_("You cannot remove yourself; ask another admin."))
    employer = membership.employer
    with transaction.atomic(durable=True):
        admins = _lock_admins(employer.pk)
        current = Membership.objects.select_for_update().filter(pk=membership.pk).first()
        if current is None:
            raise ValidationError(_("This person is no longer on the team."))
        if current.role == Role.ADMIN:
            _keeps_an_admin(admins, current, employer)
        user = User.objects.select_for_update().get(pk=current.user_id)
        current.delete()
        deactivate = not user.is_superuser and not _other_memberships(user, employer.pk)
        if deactivate and user.is_active:
            user.is_active = False
            user.save(update_fields=["is_active"])
        if current.role == Role.ADMIN:
            _staff_follows_roles(user)
        open_leads = (
            Lead.objects.filter(employer=employer, owner=user, erased_at__isnull=True)
            .exclude(stage__in=CLOSED_STAGES).count()
        )
        open_tasks = Task.objects.filter(employer=employer, owner=user, done_at__isnull=True).count()
    return RemoveResult(user_deactivated=deactivate, open_leads=open_leads, open_tasks=open_tasks)


def _other_memberships(user, employer_id: int) -> bool:
    return Membership.objects.filter(user_id=user.pk).exclude(employer_id=employer_id).exists()


def _staff_follows_roles(user) -> None:
    """Django admin for whoever is an admin of some employer; a platform admin stays staff."""
    if user.is_superuser:
        return
    staff = Membership.objects.filter(user_id=user.pk, role=Role.ADMIN).exists()
    if user.is_staff != staff:
        user.is_staff = staff
        User.objects.filter(pk=user.pk).update(is_staff=staff)


# --- reads for the team page ---------------------------------------------------------------------

FORMER_OWNER_LEADS_SHOWN = 200


def team_members(employer_ids: list[int]) -> list[Membership]:
    """The memberships of these employers with their users, admins first: one query. Only the
    membership of each listed employer: a person's other employers never show."""
    return list(
        Membership.objects.filter(employer_id__in=employer_ids)
        .select_related("user")
        .order_by("employer_id", "role", "user__first_name", "user__last_name", "user__username")
    )


def leads_of_former_members(employer_ids: list[int]) -> list[Lead]:
    """Open leads whose owner is no longer on the lead's employer's team (one query, at most
    FORMER_OWNER_LEADS_SHOWN + 1 rows): they wait for an admin to give them a new owner."""
    from django.db.models import Exists, OuterRef

    still_member = Membership.objects.filter(user_id=OuterRef("owner_id"), employer_id=OuterRef("employer_id"))
    return list(
        Lead.objects.filter(employer_id__in=employer_ids, owner__isnull=False, erased_at__isnull=True)
        .exclude(stage__in=CLOSED_STAGES)
        .filter(~Exists(still_member))
        .select_related("owner")
        .only("pk", "name", "employer_id", "stage", "owner__username", "owner__first_name", "owner__last_name")
        .order_by("employer_id", "owner_id", "-last_activity_at", "pk")[: FORMER_OWNER_LEADS_SHOWN + 1]
    )
