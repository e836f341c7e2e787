"""The fixed lists the demo is made of. Everything here is fictional; addresses and phone
numbers use reserved example domains and, where a country has one, its range for drama."""

from __future__ import annotations

from dataclasses import dataclass

from leads.models import Role, Stage

# Printed in the summary and the README: it only ever guards a demo database.
DEMO_PASSWORD = "relocate-demo"  # noqa: S105
# Every demo lead's email ends with this: counting them is how a re-run knows what exists.
DEMO_EMAIL_DOMAIN = "demo.example.net"
SEED = 2016
DAYS = 730


@dataclass(frozen=True)
class OpeningSpec:
    title: str
    team: str
    location: str
    visa_sponsorship: bool
    open: bool = True


@dataclass(frozen=True)
class EmployerSpec:
    name: str
    slug: str
    destination: str
    time_zone: str
    brand_colour: str
    sender_name: str
    sender_email: str
    share: float  # of the demo leads
    surge_peak: float  # extra inquiries on the first surge day, as a multiple of the baseline
    openings: tuple[OpeningSpec, ...]
    skills: tuple[str, ...]
    roles: tuple[str, ...]  # free-text roles of interest for leads without an opening
    credentials: tuple[str, ...]
    fair_label: str
    fair_country: str
    fair_days_ago: int
    sponsorship_exempt: frozenset[str]  # citizenships that may already work at the destination
    # Extra inquiries on the first day of the earlier surge (the visa news), as a multiple of the baseline.
    earlier_surge_peak: float = 10.0


@dataclass(frozen=True)
class UserSpec:
    username: str
    first_name: str
    last_name: str
    employer_slug: str | None  # None: the platform superuser
    role: str | None
    is_staff: bool
    speed: float = 1.0  # multiplies this recruiter's response times: reports then differ by person


SURGE_LABEL = "US election coverage"
# The surge starts this many days before the seed day and lasts two weeks.
SURGE_DAYS_AGO = 35
SURGE_LENGTH = 14
# An earlier surge, about 14 months back: long enough ago that its cohort has since applied,
# been hired, waited on visas and relocated (or not), so its outcome can be read. Not 13
# months: the same days a year before the election surge (its baseline) stay ordinary.
EARLIER_SURGE_LABEL = "Work visa fast-track in the news"
EARLIER_SURGE_DAYS_AGO = 420

EMPLOYERS: tuple[EmployerSpec, ...] = (
    EmployerSpec(
        name="Kiwi Ledger",
        slug="kiwi-ledger",
        destination="NZ",
        time_zone="Pacific/Auckland",
        brand_colour="#0f7b6c",
        sender_name="Kiwi Ledger Careers",
        sender_email="careers@kiwiledger.example.com",
        share=0.65,
        surge_peak=12.0,
        openings=(
            OpeningSpec("Senior Software Engineer, Payroll", "Payroll", "Wellington", True),
            OpeningSpec("Frontend Engineer (React)", "Web", "Auckland", True),
            OpeningSpec("Site Reliability Engineer", "Platform", "Wellington", True),
            OpeningSpec("Data Engineer", "Insights", "Wellington", True),
            OpeningSpec("Product Designer", "Design", "Auckland", False),
            OpeningSpec("Accountant, Product Specialist", "Product", "Auckland", False),
            OpeningSpec("Customer Success Manager", "Customers", "Christchurch", False),
            OpeningSpec("Graduate Developer, summer intake", "Engineering", "Wellington", False, open=False),
        ),
        skills=(
            "Python", "Go", "TypeScript", "React", "AWS", "Kubernetes", "PostgreSQL", "Payroll",
            "Tax", "Accounting", "Product management", "UX design", "Data engineering", "Customer success",
        ),
        roles=("Software engineer", "Accountant", "Engineering manager", "Designer", "Support specialist"),
        credentials=(
            "CPA (US): would need CA ANZ recognition",
            "ACCA member",
            "Chartered Accountant (ICAI)",
            "Registered nurse licence (partner)",
        ),
        fair_label="Tech jobs expo, London",
        fair_country="GB",
        fair_days_ago=160,
        sponsorship_exempt=frozenset({"NZ", "AU"}),
        earlier_surge_peak=10.0,
    ),
    EmployerSpec(
        name="Maple Pixel Games",
        slug="maple-pixel",
        destination="CA",
        time_zone="America/Toronto",
        brand_colour="#c8102e",
        sender_name="Maple Pixel Talent",
        sender_email="talent@maplepixel.example.com",
        share=0.35,
        surge_peak=10.0,
        openings=(
            OpeningSpec("Gameplay Programmer (C++)", "Gameplay", "Toronto", True),
            OpeningSpec("Engine Programmer, Rendering", "Engine", "Vancouver", True),
            OpeningSpec("Technical Artist", "Art", "Montreal", True),
            OpeningSpec("Senior Level Designer", "Design", "Toronto", False),
            OpeningSpec("QA Lead", "Quality", "Toronto", False),
            OpeningSpec("Producer", "Production", "Montreal", False),
            OpeningSpec("Narrative Designer (contract)", "Design", "Toronto", False, open=False),
        ),
        skills=(
            "C++", "C#", "Unity", "Unreal Engine", "Shaders", "3D modelling", "Animation", "Game design",
            "Level design", "QA testing", "Audio", "Production", "Narrative",
        ),
        roles=("Game programmer", "Artist", "Designer", "QA tester", "Producer"),
        credentials=("P.Eng (US): engineering licence", "Teaching certificate (partner)"),
        fair_label="Game dev careers fair, Austin",
        fair_country="US",
        fair_days_ago=250,
        sponsorship_exempt=frozenset({"CA"}),
        earlier_surge_peak=9.0,
    ),
)

USERS: tuple[UserSpec, ...] = (
    UserSpec("admin", "Ada", "Admin", None, None, is_staff=True),
    UserSpec("ava", "Ava", "Ngata", "kiwi-ledger", Role.RECRUITER, is_staff=False, speed=0.6),
    UserSpec("cleo", "Cleo", "Fraser", "kiwi-ledger", Role.RECRUITER, is_staff=False, speed=1.6),
    UserSpec("nina", "Nina", "Patel", "kiwi-ledger", Role.ADMIN, is_staff=True),
    UserSpec("ben", "Ben", "Tremblay", "maple-pixel", Role.RECRUITER, is_staff=False, speed=1.0),
    UserSpec("dev", "Dev", "Sharma", "maple-pixel", Role.RECRUITER, is_staff=False, speed=2.2),
    UserSpec("mark", "Mark", "Leblanc", "maple-pixel", Role.ADMIN, is_staff=True),
)

# (label, stage): the stage is the closed stage the reason belongs to, "" for any.
CLOSED_REASONS: tuple[tuple[str, str], ...] = (
    ("Not a fit", Stage.DECLINED),
    ("Position filled", Stage.DECLINED),
    ("Visa refused", Stage.WITHDRAWN),
    ("Took another offer", Stage.WITHDRAWN),
    ("Family reasons", Stage.WITHDRAWN),
    ("Decided not to move", Stage.WITHDRAWN),
    ("Salary expectations", ""),
    ("No reply", Stage.UNRESPONSIVE),
)

# How leads close, by the furthest milestone they reached: (to_stage, reason label, weight).
CLOSINGS: dict[str, tuple[tuple[str, str, int], ...]] = {
    Stage.NEW: ((Stage.UNRESPONSIVE, "No reply", 80), (Stage.DECLINED, "Not a fit", 20)),
    Stage.CONTACTED: (
        (Stage.UNRESPONSIVE, "No reply", 45), (Stage.DECLINED, "Not a fit", 20),
        (Stage.WITHDRAWN, "Decided not to move", 15), (Stage.WITHDRAWN, "Family reasons", 10),
        (Stage.WITHDRAWN, "Salary expectations", 10),
    ),
    Stage.APPLIED: (
        (Stage.DECLINED, "Not a fit", 45), (Stage.DECLINED, "Position filled", 10),
        (Stage.WITHDRAWN, "Salary expectations", 20), (Stage.WITHDRAWN, "Took another offer", 15),
        (Stage.UNRESPONSIVE, "No reply", 10),
    ),
    Stage.INTERVIEWING: (
        (Stage.DECLINED, "Not a fit", 45), (Stage.WITHDRAWN, "Took another offer", 20),
        (Stage.WITHDRAWN, "Salary expectations", 20), (Stage.WITHDRAWN, "Family reasons", 15),
    ),
    Stage.OFFER: (
        (Stage.WITHDRAWN, "Took another offer", 40), (Stage.WITHDRAWN, "Salary expectations", 30),
        (Stage.WITHDRAWN, "Family reasons", 30),
    ),
    # Waiting on a visa: mostly refusals, sometimes life intervenes during the wait.
    Stage.VISA: (
        (Stage.WITHDRAWN, "Visa refused", 75), (Stage.WITHDRAWN, "Family reasons", 15),
        (Stage.WITHDRAWN, "Took another offer", 10),
    ),
}
# The share of leads stopping at a milestone that close afterwards (when there was time to).
CLOSE_SHARE: dict[str, float] = {
    Stage.NEW: 0.8, Stage.CONTACTED: 0.75, Stage.APPLIED: 0.6, Stage.INTERVIEWING: 0.6,
    Stage.OFFER: 0.5, Stage.VISA: 0.35,
}
# Days from the last milestone to the close (low, high): a visa decision takes a while.
CLOSE_GAP_DAYS: dict[str, tuple[int, int]] = {"": (2, 40), Stage.VISA: (20, 120)}
CLOSE_NOTES: dict[str, tuple[str, ...]] = {
    "Not a fit": ("Experience doesn't match the role.", "Looking for a more senior profile.", ""),
    "Position filled": ("Role filled internally.",),
    "Visa refused": ("Work visa application declined.", "Visa declined: medical clearance."),
    "Took another offer": ("Accepted an offer closer to home.", "Staying with current employer after a counter-offer."),
    "Family reasons": ("Partner's job means staying put for now.", "Family circumstances changed."),
    "Decided not to move": ("Decided to stay after all.", "Timing isn't right."),
    "Salary expectations": ("Expectations well above the band.", "Cost of living vs salary didn't work out."),
    "No reply": ("",),
}
STALE_NOTE = "No answer to the 'still interested?' email within 14 days."

# Baseline mix of the country people write from; the destination itself is left out.
COUNTRY_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("US", 52), ("GB", 9), ("IN", 8), ("DE", 4), ("BR", 4), ("PH", 4), ("ZA", 4), ("FR", 3),
    ("AU", 3), ("CA", 3), ("IE", 2), ("NZ", 2), ("NG", 2), ("MX", 2),
)
# A second citizenship some people hold, by the first.
SECOND_CITIZENSHIPS: dict[str, tuple[str, ...]] = {
    "US": ("IE", "GB", "DE", "IT", "MX", "NZ", "CA"),
    "GB": ("IE", "AU", "NZ"),
    "IN": ("GB",),
    "ZA": ("GB", "PT"),
    "BR": ("PT", "IT"),
    "FR": ("CA",),
}

_ANGLO = (
    ("James", "Olivia", "Michael", "Emma", "Daniel", "Sophia", "Ethan", "Grace", "Noah", "Chloe",
     "Liam", "Hannah", "Ryan", "Megan", "Tyler", "Zoë"),
    ("Smith", "Johnson", "Williams", "Brown", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
     "Clarke", "O'Brien", "Walker", "Hughes", "Murphy", "Campbell", "Kowalski"),
)
NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "anglo": _ANGLO,
    "IN": (("Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Isha", "Arjun", "Kavya", "Rahul", "Neha"),
           ("Sharma", "Iyer", "Reddy", "Gupta", "Nair", "Mehta", "Rao", "Singh", "Kapoor", "Das")),
    "DE": (("Lukas", "Anna", "Felix", "Lena", "Jonas", "Marie", "Paul", "Sophie", "Leon", "Jana"),
           ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann")),
    "BR": (("João", "Ana", "Lucas", "Beatriz", "Gabriel", "Larissa", "Mateus", "Camila", "Rafael"),
           ("Silva", "Santos", "Oliveira", "Souza", "Costa", "Pereira", "Almeida", "Carvalho")),
    "PH": (("Jose", "Maria", "Mark", "Angelica", "Paolo", "Kristine", "Carlo", "Jasmine"),
           ("Santos", "Reyes", "Cruz", "Bautista", "Garcia", "Mendoza", "Villanueva", "Ramos")),
    "ZA": (("Thabo", "Lerato", "Pieter", "Anke", "Sipho", "Naledi", "Johan", "Zanele"),
           ("Nkosi", "van der Merwe", "Botha", "Dlamini", "Naidoo", "Pretorius", "Mokoena")),
    "FR": (("Louis", "Camille", "Hugo", "Léa", "Jules", "Manon", "Théo", "Chloé"),
           ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand")),
    "NG": (("Chinedu", "Ngozi", "Tunde", "Aisha", "Emeka", "Funmilayo", "Ifeanyi", "Zainab"),
           ("Okafor", "Adeyemi", "Bello", "Eze", "Okonkwo", "Balogun", "Abubakar")),
    "MX": (("Diego", "Valeria", "Santiago", "Ximena", "Alejandro", "Fernanda", "Emiliano"),
           ("Hernández", "García", "Martínez", "López", "González", "Ramírez", "Flores")),
}
NAME_GROUP: dict[str, str] = {code: code for code in NAMES} | dict.fromkeys(
    ("US", "GB", "AU", "CA", "IE", "NZ"), "anglo"
)

CITIES: dict[str, tuple[str, ...]] = {
    "US": ("Seattle", "San Francisco", "Austin", "New York", "Chicago", "Denver", "Boston", "Portland",
           "Los Angeles", "Minneapolis", "Atlanta", "Raleigh"),
    "GB": ("London", "Manchester", "Bristol", "Edinburgh", "Leeds"),
    "IN": ("Bengaluru", "Pune", "Hyderabad", "Chennai", "Mumbai"),
    "DE": ("Berlin", "Munich", "Hamburg", "Cologne"),
    "BR": ("São Paulo", "Rio de Janeiro", "Belo Horizonte", "Porto Alegre"),
    "PH": ("Manila", "Cebu City", "Quezon City"),
    "ZA": ("Cape Town", "Johannesburg", "Durban", "Pretoria"),
    "FR": ("Paris", "Lyon", "Toulouse", "Bordeaux"),
    "AU": ("Sydney", "Melbourne", "Brisbane", "Perth"),
    "CA": ("Toronto", "Vancouver", "Montreal", "Calgary"),
    "IE": ("Dublin", "Cork", "Galway"),
    "NZ": ("Auckland", "Wellington", "Christchurch"),
    "NG": ("Lagos", "Abuja", "Ibadan"),
    "MX": ("Mexico City", "Guadalajara", "Monterrey"),
}

# E.164 prefix and the number of random digits after it. Where a country reserves numbers for
# fiction (US/CA 555-01xx, UK 07700 900xxx, AU 0491 570 xxx) the demo uses that range.
PHONES: dict[str, tuple[tuple[str, ...], int]] = {
    "US": (("+120655501", "+141555501", "+151255501", "+121255501", "+131255501", "+130355501"), 2),
    "CA": (("+141655501", "+160455501", "+151455501"), 2),
    "GB": (("+447700900",), 3),
    "AU": (("+61491570",), 3),
    "NZ": (("+6421",), 7),
    "IE": (("+35383",), 7),
    "IN": (("+9198", "+9199"), 8),
    "DE": (("+49151", "+49160"), 8),
    "BR": (("+55119", "+55219"), 8),
    "PH": (("+63917", "+63918"), 7),
    "ZA": (("+2782", "+2783"), 7),
    "FR": (("+336",), 8),
    "NG": (("+234803", "+234806"), 7),
    "MX": (("+5255",), 8),
}

SOURCE_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("web_form", 70), ("email", 8), ("referral", 8), ("event", 5), ("manual", 4), ("import", 3), ("api", 2),
)
# (utm_source, utm_medium, utm_campaign) for web-form leads that came through a campaign.
CAMPAIGNS: tuple[tuple[str, str, str], ...] = (
    ("google", "cpc", "careers-always-on"),
    ("linkedin", "social", "engineering-hiring"),
    ("newsletter", "email", "monthly-careers"),
    ("reddit", "social", "ama-relocation"),
    ("jobboard", "referral", "remote-relocate-list"),
)
SURGE_CAMPAIGN = ("news", "referral", "move-abroad-coverage")
EARLIER_SURGE_CAMPAIGN = ("news", "referral", "work-visa-fast-track")
# Who wrote after the visa news: skilled people from the usual countries, fewer Americans.
EARLIER_SURGE_COUNTRY_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("GB", 24), ("IN", 20), ("US", 18), ("ZA", 10), ("PH", 8), ("IE", 5), ("DE", 4), ("BR", 4),
    ("NG", 4), ("FR", 3),
)

TIMELINE_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("now", 10), ("3m", 20), ("6m", 25), ("12m", 20), ("exploring", 25),
)
# Election-night interest is mostly people just exploring: the question the reports answer.
SURGE_TIMELINE_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("now", 5), ("3m", 10), ("6m", 15), ("12m", 25), ("exploring", 45),
)
# The visa news brought people with a plan more often than election night did.
EARLIER_SURGE_TIMELINE_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("now", 8), ("3m", 17), ("6m", 25), ("12m", 22), ("exploring", 28),
)
TIMELINE_MONTHS: dict[str, int] = {"now": 0, "3m": 3, "6m": 6, "12m": 12}

# The furthest milestone a lead would reach given time: the funnel of the demo.
FUNNEL_WEIGHTS: tuple[int, ...] = (30, 35, 15, 9, 4, 2, 2, 3)
SURGE_FUNNEL_WEIGHTS: tuple[int, ...] = (36, 40, 11, 6, 3, 1, 1, 2)
# Below an ordinary week's (35% apply, 7% are hired, 4.5% relocate in the end): on average 15%
# apply, 2.5% are hired and under 2% relocate (the default demo's cohort, mixed with the usual
# inquiries of those days, comes out at about 27%, 7% and 3.6%).
EARLIER_SURGE_FUNNEL_WEIGHTS: tuple[int, ...] = (84, 86, 14, 8, 3, 2, 1, 2)
# Days between reaching one milestone and the next (low, high), indexed by the later one.
MILESTONE_GAP_DAYS: dict[str, tuple[float, float]] = {
    Stage.APPLIED: (2, 21),
    Stage.INTERVIEWING: (4, 20),
    Stage.OFFER: (7, 35),
    Stage.HIRED: (1, 10),
    Stage.VISA: (5, 30),
    Stage.RELOCATED: (30, 150),
}

SUBJECTS: tuple[str, ...] = (
    "Job inquiry: {role}",
    "Interested in relocating to {destination}",
    "Question about {role} roles and visa sponsorship",
    "Moving to {destination}: any openings?",
    "{role} from {city} looking to relocate",
    "Application: {role}",
)
REPEAT_SUBJECTS: tuple[str, ...] = (
    "Following up on my inquiry",
    "Still very interested",
    "Any update on my application?",
    "Updated CV",
)
OPENERS: tuple[str, ...] = (
    "Hi, I'm a {role} based in {city}.",
    "Hello! I've been following {employer} for a while.",
    "Kia ora / hello, I'm writing from {city}.",
    "Hi team, I'm a {role} with {years} years of experience.",
)
MOTIVES: tuple[str, ...] = (
    "My partner and I have wanted to live in {destination} for years and the timing finally feels right.",
    "I'm looking for a better work-life balance and {destination} keeps coming up.",
    "I'd love to work on a product that small businesses rely on every day.",
    "A friend who moved to {destination} last year can't stop talking about it.",
    "I'm keen to grow my career somewhere new, and your {role} work looks great.",
)
SURGE_MOTIVES: tuple[str, ...] = (
    "After watching the election results last night I'm seriously looking at a move.",
    "Honestly, the news this week has made our family think hard about where we want to raise our kids.",
    "I never thought I'd write this email, but after the election I'm exploring options abroad.",
    "Lots of people here are talking about moving to {destination}; I'd like to know what it really takes.",
)
EARLIER_SURGE_MOTIVES: tuple[str, ...] = (
    "I read that {destination} is fast-tracking work visas for people in my field: does that apply to roles with you?",
    "The news about faster work visas for {destination} finally makes the move look doable for us.",
    "A colleague sent me the article on the new visa fast-track, and I'd like to know what it means in practice.",
    "With the visa changes announced this week, I'm keen to hear whether you sponsor {role} roles.",
)
CLOSERS: tuple[str, ...] = (
    "Do you sponsor work visas?",
    "Happy to talk any time.",
    "I've attached my CV; thanks for reading.",
    "What would the next steps be?",
    "",
)
REPEAT_BODIES: tuple[str, ...] = (
    "Just checking in: I'm still keen and my situation hasn't changed.",
    "I've updated my CV and wanted to make sure you have the latest version.",
    "We've now decided on a move date; is the role still open?",
)


@dataclass(frozen=True)
class SurgeSpec:
    """A spike of inquiries after a news event, marked on the surge report's timeline."""

    label: str
    days_ago: int  # its first day, counted back from the seed day
    length: int
    peak_field: str  # the EmployerSpec field with its first day's extra inquiries (x baseline)
    countries: tuple[tuple[str, int], ...]
    timelines: tuple[tuple[str, int], ...]
    funnel: tuple[int, ...]
    motives: tuple[str, ...]
    campaign: tuple[str, str, str]
    web_share: float  # the rest wrote by email
    campaign_share: float  # of the web-form inquiries, those that came through the news coverage


SURGES: tuple[SurgeSpec, ...] = (
    SurgeSpec(SURGE_LABEL, SURGE_DAYS_AGO, SURGE_LENGTH, "surge_peak", (("US", 1),), SURGE_TIMELINE_WEIGHTS,
              SURGE_FUNNEL_WEIGHTS, SURGE_MOTIVES, SURGE_CAMPAIGN, web_share=0.9, campaign_share=0.7),
    SurgeSpec(EARLIER_SURGE_LABEL, EARLIER_SURGE_DAYS_AGO, SURGE_LENGTH, "earlier_surge_peak",
              EARLIER_SURGE_COUNTRY_WEIGHTS, EARLIER_SURGE_TIMELINE_WEIGHTS, EARLIER_SURGE_FUNNEL_WEIGHTS,
              EARLIER_SURGE_MOTIVES, EARLIER_SURGE_CAMPAIGN, web_share=0.85, campaign_share=0.6),
)

REMOTE_PREFIXES: tuple[str, ...] = ("192.0.2.", "198.51.100.", "203.0.113.")  # documentation ranges

TEMPLATES: tuple[tuple[str, str, str, str], ...] = (
    # (name, kind, subject, body_text)
    (
        "Acknowledgement",
        "acknowledgement",
        "Thanks for getting in touch, {{ lead.name }}",
        "Hi {{ lead.name }},\n\n"
        "Thanks for your interest in working at {{ employer.name }} in {destination}. We read every "
        "message, and {{ recruiter.name }} will get back to you within a working day.\n\n"
        "You asked about: {{ opening }}.\n\n"
        "Ngā mihi,\n{{ recruiter.name }}\n{{ employer.name }}\n\n"
        "See or erase what we hold about you (the link works for {{ link_days }} days): {{ my_data_url }}\n"
        "Don't want these emails? Unsubscribe: {{ unsubscribe_url }}\n",
    ),
    (
        "Follow-up 1: next steps",
        "followup",
        "Your next steps with {{ employer.name }}",
        "Hi {{ lead.name }},\n\n"
        "Following up on your message about {{ opening }}. The quickest way forward is a short "
        "application with your CV; we'll come back to you within a week.\n\n"
        "Any questions, just reply to this email.\n\n"
        "{{ recruiter.name }}\n\nUnsubscribe: {{ unsubscribe_url }}\n",
    ),
    (
        "Follow-up 2: visas and relocation",
        "followup",
        "Moving to {destination}: visas, timing and support",
        "Hi {{ lead.name }},\n\n"
        "Many people who write to {{ employer.name }} ask how the move works. For roles where we "
        "sponsor a work visa we cover the application costs, flights and two weeks of temporary "
        "housing, and we'll talk you through timing for a partner or family.\n\n"
        "{{ recruiter.name }}\n\nUnsubscribe: {{ unsubscribe_url }}\n",
    ),
    (
        "Follow-up 3: last check-in",
        "followup",
        "Shall we keep your details on file?",
        "Hi {{ lead.name }},\n\n"
        "This is the last email in this series. If {{ opening }} isn't right now, we'd be glad "
        "to keep your details for future roles: just reply and let us know.\n\n"
        "{{ recruiter.name }}, {{ employer.name }}\n\nUnsubscribe: {{ unsubscribe_url }}\n",
    ),
    (
        "Still interested?",
        "stale_check",
        "Still thinking about {destination}, {{ lead.name }}?",
        "Hi {{ lead.name }},\n\n"
        "It's been a while since we heard from you. Are you still interested in a move to "
        "{destination} with {{ employer.name }}? Reply to this email to keep your application "
        "open; otherwise we'll close it in two weeks.\n\n"
        "{{ recruiter.name }}\n\nUnsubscribe: {{ unsubscribe_url }}\n",
    ),
)
SEQUENCE_NAME = "Default follow-up"
# (position, delay_days, delay_from, template name)
SEQUENCE_STEPS: tuple[tuple[int, int, str, str], ...] = (
    (1, 2, "inquiry", "Follow-up 1: next steps"),
    (2, 5, "previous", "Follow-up 2: visas and relocation"),
    (3, 10, "previous", "Follow-up 3: last check-in"),
)

# --- follow-up history ------------------------------------------------------------------------

# The employers switched their sequence on three months before the seed day (the follow-up
# report's default range): leads from before then got no follow-ups. Three outbox rows for each
# of a million leads would cost more than the rest of the seed.
FOLLOWUPS_SINCE_DAYS_AGO = 90
# By step position (the last value for any further step): the share of sent follow-ups that the
# person answers, and the share after which they unsubscribe. The last check-in asks for a reply.
FOLLOWUP_REPLY_SHARE: tuple[float, ...] = (0.09, 0.05, 0.08)
FOLLOWUP_UNSUBSCRIBE_SHARE: tuple[float, ...] = (0.012, 0.02, 0.035)
# People who go on to apply answer more often, and those who never do less.
REPLY_FACTOR_ADVANCING, REPLY_FACTOR_OTHERS = 2.2, 0.6
# Of the unsubscribes, those made with the mail client's one-click button rather than the link.
ONE_CLICK_SHARE = 0.4
REPLY_BODIES: tuple[str, ...] = (
    "Thanks for following up! I'm still very interested and will send my CV this week.",
    "Hi, yes, I'm still keen. Could we set up a quick call? Evenings my time work best.",
    "Thanks. Is the role open to people who would need a work visa?",
    "Appreciate the details on relocation support. My partner is a nurse: would she be able to work too?",
    "Please keep my details on file. The timing isn't right this year, but I'd love to hear about future roles.",
    "Thank you! I've just submitted the application form.",
)
# Message-IDs of the people's replies: their own mail provider's, an example domain.
REPLY_MAIL_DOMAIN = "mail.demo.example.net"

# --- the applicant's languages ----------------------------------------------------------------

# The language a demo lead writes in, by the country they live in (the others: the employer's default).
COUNTRY_LANGUAGES: dict[str, str] = {
    "FR": "fr", "BE": "fr", "DE": "de", "AT": "de", "ES": "es", "MX": "es", "AR": "es", "CO": "es",
    "BR": "pt-br", "EG": "ar", "SA": "ar", "AE": "ar", "MA": "ar",
}
# The languages the demo employers' public forms offer.
EMPLOYER_LANGUAGES: tuple[str, ...] = ("en", "fr", "de", "es", "pt-br", "ar")
# "{in_destination}" in a translation: the destination with the preposition its language wants.
IN_DESTINATION: dict[str, dict[str, str]] = {
    "fr": {"NZ": "en Nouvelle-Zélande", "CA": "au Canada"},
    "de": {"NZ": "in Neuseeland", "CA": "in Kanada"},
    "es": {"NZ": "en Nueva Zelanda", "CA": "en Canadá"},
    "pt-br": {"NZ": "na Nova Zelândia", "CA": "no Canadá"},
    "ar": {"NZ": "في نيوزيلندا", "CA": "في كندا"},
}
# (template name, language, subject, body_text): the acknowledgement and the first follow-up in
# each of the applicant's languages, as a recruiter writing in that language would put them.
TRANSLATIONS: tuple[tuple[str, str, str, str], ...] = (
    (
        "Acknowledgement", "fr",
        "Merci de nous avoir écrit, {{ lead.name }}",
        "Bonjour {{ lead.name }},\n\n"
        "Merci de votre intérêt pour un poste chez {{ employer.name }} {in_destination}. Nous lisons "
        "chaque message, et {{ recruiter.name }} vous répondra sous un jour ouvré.\n\n"
        "Votre demande concerne : {{ opening }}.\n\n"
        "Bien cordialement,\n{{ recruiter.name }}\n{{ employer.name }}\n\n"
        "Consulter ou effacer les données que nous détenons sur vous (lien valable {{ link_days }} jours) : "
        "{{ my_data_url }}\n"
        "Vous ne souhaitez plus recevoir nos e-mails ? Désabonnement : {{ unsubscribe_url }}\n",
    ),
    (
        "Follow-up 1: next steps", "fr",
        "Vos prochaines étapes avec {{ employer.name }}",
        "Bonjour {{ lead.name }},\n\n"
        "Je reviens vers vous au sujet de votre message concernant {{ opening }}. Le plus simple pour "
        "avancer : une courte candidature avec votre CV. Nous vous répondrons sous une semaine.\n\n"
        "Pour toute question, il vous suffit de répondre à cet e-mail.\n\n"
        "{{ recruiter.name }}\n\nSe désabonner : {{ unsubscribe_url }}\n",
    ),
    (
        "Acknowledgement", "de",
        "Danke für Ihre Nachricht, {{ lead.name }}",
        "Guten Tag {{ lead.name }},\n\n"
        "vielen Dank für Ihr Interesse an einer Stelle bei {{ employer.name }} {in_destination}. Wir lesen "
        "jede Nachricht, und {{ recruiter.name }} meldet sich innerhalb eines Arbeitstages bei Ihnen.\n\n"
        "Ihre Anfrage betrifft: {{ opening }}.\n\n"
        "Viele Grüße\n{{ recruiter.name }}\n{{ employer.name }}\n\n"
        "Ihre bei uns gespeicherten Daten einsehen oder löschen (der Link gilt {{ link_days }} Tage): "
        "{{ my_data_url }}\n"
        "Sie möchten keine E-Mails mehr von uns erhalten? Hier abmelden: {{ unsubscribe_url }}\n",
    ),
    (
        "Follow-up 1: next steps", "de",
        "Ihre nächsten Schritte mit {{ employer.name }}",
        "Guten Tag {{ lead.name }},\n\n"
        "ich komme noch einmal auf Ihre Nachricht zu {{ opening }} zurück. Am schnellsten geht es mit "
        "einer kurzen Bewerbung samt Lebenslauf; wir melden uns dann innerhalb einer Woche bei Ihnen.\n\n"
        "Bei Fragen antworten Sie einfach auf diese E-Mail.\n\n"
        "{{ recruiter.name }}\n\nAbmelden: {{ unsubscribe_url }}\n",
    ),
    (
        "Acknowledgement", "es",
        "Gracias por escribirnos, {{ lead.name }}",
        "Hola, {{ lead.name }}:\n\n"
        "Gracias por tu interés en trabajar en {{ employer.name }} {in_destination}. Leemos todos los "
        "mensajes y {{ recruiter.name }} te responderá en un plazo de un día hábil.\n\n"
        "Nos preguntaste por: {{ opening }}.\n\n"
        "Un saludo,\n{{ recruiter.name }}\n{{ employer.name }}\n\n"
        "Consulta o borra los datos que tenemos sobre ti (el enlace es válido durante {{ link_days }} días): "
        "{{ my_data_url }}\n"
        "¿No quieres recibir estos correos? Date de baja aquí: {{ unsubscribe_url }}\n",
    ),
    (
        "Follow-up 1: next steps", "es",
        "Tus próximos pasos con {{ employer.name }}",
        "Hola, {{ lead.name }}:\n\n"
        "Te escribo de nuevo por tu mensaje sobre {{ opening }}. La forma más rápida de avanzar es "
        "enviarnos una breve solicitud con tu CV; te responderemos en el plazo de una semana.\n\n"
        "Si tienes cualquier pregunta, responde a este correo.\n\n"
        "{{ recruiter.name }}\n\nDarte de baja: {{ unsubscribe_url }}\n",
    ),
    (
        "Acknowledgement", "pt-br",
        "Obrigado pelo contato, {{ lead.name }}",
        "Olá, {{ lead.name }},\n\n"
        "Obrigado pelo seu interesse em trabalhar na {{ employer.name }} {in_destination}. Lemos todas as "
        "mensagens, e {{ recruiter.name }} vai responder a você em até um dia útil.\n\n"
        "Você perguntou sobre: {{ opening }}.\n\n"
        "Atenciosamente,\n{{ recruiter.name }}\n{{ employer.name }}\n\n"
        "Veja ou apague os dados que temos sobre você (o link vale por {{ link_days }} dias): "
        "{{ my_data_url }}\n"
        "Não quer mais receber nossos e-mails? Cancele a inscrição: {{ unsubscribe_url }}\n",
    ),
    (
        "Follow-up 1: next steps", "pt-br",
        "Seus próximos passos com a {{ employer.name }}",
        "Olá, {{ lead.name }},\n\n"
        "Estou retomando o contato sobre a sua mensagem a respeito de {{ opening }}. O caminho mais rápido "
        "é enviar uma candidatura curta com o seu currículo; daremos um retorno em até uma semana.\n\n"
        "Se tiver qualquer dúvida, é só responder a este e-mail.\n\n"
        "{{ recruiter.name }}\n\nCancelar inscrição: {{ unsubscribe_url }}\n",
    ),
    (
        "Acknowledgement", "ar",
        "شكرًا لتواصلك معنا، {{ lead.name }}",
        "مرحبًا {{ lead.name }}،\n\n"
        "شكرًا لاهتمامك بالعمل لدى {{ employer.name }} {in_destination}. نقرأ كل رسالة تصلنا، "
        "وسيتواصل معك {{ recruiter.name }} خلال يوم عمل واحد.\n\n"
        "استفسارك عن: {{ opening }}.\n\n"
        "مع أطيب التحيات،\n{{ recruiter.name }}\n{{ employer.name }}\n\n"
        "للاطلاع على بياناتك لدينا أو حذفها (الرابط صالح لمدة {{ link_days }} يومًا): {{ my_data_url }}\n"
        "لا ترغب في تلقي رسائلنا؟ يمكنك إلغاء الاشتراك من هنا: {{ unsubscribe_url }}\n",
    ),
    (
        "Follow-up 1: next steps", "ar",
        "خطواتك التالية مع {{ employer.name }}",
        "مرحبًا {{ lead.name }}،\n\n"
        "أتابع معك بخصوص رسالتك عن {{ opening }}. أسرع طريقة للمضي قدمًا هي أن ترسل إلينا طلبًا قصيرًا "
        "مع سيرتك الذاتية، وسنعود إليك خلال أسبوع.\n\n"
        "إن كانت لديك أي أسئلة، فما عليك إلا الرد على هذه الرسالة.\n\n"
        "{{ recruiter.name }}\n\nلإلغاء الاشتراك: {{ unsubscribe_url }}\n",
    ),
)
