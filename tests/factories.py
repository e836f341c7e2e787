"""factory_boy factories for the domain model."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from leads import models


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    password = factory.django.Password("relocate-test")


class EmployerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Employer

    name = factory.Sequence(lambda n: f"Employer {n}")
    slug = factory.Sequence(lambda n: f"employer-{n}")
    destination_country = "NZ"
    time_zone = "Pacific/Auckland"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Membership

    user = factory.SubFactory(UserFactory)
    employer = factory.SubFactory(EmployerFactory)
    role = models.Role.RECRUITER


class OpeningFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Opening

    employer = factory.SubFactory(EmployerFactory)
    title = factory.Sequence(lambda n: f"Software Engineer {n}")
    team = "Platform"
    location = "Wellington"


class ClosedReasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ClosedReason

    employer = factory.SubFactory(EmployerFactory)
    label = factory.Sequence(lambda n: f"Reason {n}")


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Lead

    employer = factory.SubFactory(EmployerFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"lead{n}@example.org")
    current_country = "US"
    legal_basis = models.LegalBasis.CONSENT


class InquiryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Inquiry

    lead = factory.SubFactory(LeadFactory)
    employer = factory.LazyAttribute(lambda i: i.lead.employer)
    channel = models.Source.WEB_FORM
    body = "I would like to move."


class NoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Note

    lead = factory.SubFactory(LeadFactory)
    body = "Spoke on the phone."


class EmailTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.EmailTemplate

    employer = factory.SubFactory(EmployerFactory)
    name = factory.Sequence(lambda n: f"Template {n}")
    subject = "Hello {{ lead.name }}"
    body_text = "Thanks for your interest in {{ employer.name }}."


class SequenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Sequence

    employer = factory.SubFactory(EmployerFactory)
    name = factory.Sequence(lambda n: f"Sequence {n}")


class OutboundEmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.OutboundEmail

    lead = factory.SubFactory(LeadFactory)
    employer = factory.LazyAttribute(lambda o: o.lead.employer)
    to_email = factory.LazyAttribute(lambda o: o.lead.email)
    kind = models.OutboundKind.ACKNOWLEDGEMENT
    unique_key = factory.Sequence(lambda n: f"test:{n}")


class SkillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Skill

    employer = factory.SubFactory(EmployerFactory)
    name = factory.Sequence(lambda n: f"Skill {n}")


class CitizenshipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Citizenship

    lead = factory.SubFactory(LeadFactory)
    country = "GB"


class PossibleDuplicateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.PossibleDuplicate

    lead = factory.SubFactory(LeadFactory)
    other = factory.SubFactory(LeadFactory, employer=factory.SelfAttribute("..lead.employer"))
    employer = factory.LazyAttribute(lambda d: d.lead.employer)
    reason = models.PossibleDuplicate.Reason.PHONE


class StageEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.StageEvent

    lead = factory.SubFactory(LeadFactory)
    employer = factory.LazyAttribute(lambda e: e.lead.employer)
    from_stage = models.Stage.NEW
    to_stage = models.Stage.CONTACTED


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Activity

    lead = factory.SubFactory(LeadFactory)
    kind = models.ActivityKind.CALL
    summary = "Called about the role."


class SequenceStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.SequenceStep

    sequence = factory.SubFactory(SequenceFactory)
    position = factory.Sequence(lambda n: n + 1)
    delay_days = 3
    template = factory.SubFactory(EmailTemplateFactory, employer=factory.SelfAttribute("..sequence.employer"))


class MarkedEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.MarkedEvent

    employer = factory.SubFactory(EmployerFactory)
    date = factory.Faker("date_object")
    label = factory.Sequence(lambda n: f"Event {n}")


class WorkerHeartbeatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.WorkerHeartbeat

    name = factory.Sequence(lambda n: f"worker{n}")
    beat_at = factory.LazyFunction(timezone.now)


class SubmissionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Submission

    employer = factory.SubFactory(EmployerFactory)
    data = factory.Sequence(lambda n: {"email": f"applicant{n}@example.org", "name": f"Applicant {n}", "fields": {}})
    privacy_accepted = True
