"""Seed a deterministic synthetic demo practice and print its logins. Synthetic data only."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone
from faker import Faker

from patients.models import Coverage, Patient, Payer
from scheduling.models import Appointment, AppointmentType, Location, ScheduleTemplate, TemplateBlock
from vma import audit, workflow
from vma.access import add_to_care_team, sync_role_groups
from vma.models import CareTeam, User, WorkItem
from vma.roles import Role
from vma.validators import npi_check_digit

DEMO_PASSWORD = "Demo-Clinic-2026"  # noqa: S105 - the synthetic demo clinic's published password
SEED = 2026

STAFF: list[tuple[str, str, str, str, str]] = [
    # username, first, last, role, credentials
    ("dr.rivera", "Ana", "Rivera", Role.PROVIDER, "MD"),
    ("dr.chen", "Wei", "Chen", Role.PROVIDER, "DO"),
    ("np.okafor", "Ngozi", "Okafor", Role.PROVIDER, "NP"),
    ("fo.amy", "Amy", "Lopez", Role.FRONT_OFFICE, ""),
    ("fo.ben", "Ben", "Carter", Role.FRONT_OFFICE, ""),
    ("bill.cara", "Cara", "Singh", Role.BILLING, ""),
    ("bill.dan", "Dan", "Moreau", Role.BILLING, ""),
    ("cs.eve", "Eve", "Nakamura", Role.CLINICAL_SUPPORT, ""),
    ("cs.finn", "Finn", "Walsh", Role.CLINICAL_SUPPORT, ""),
    ("nurse.gia", "Gia", "Romano", Role.NURSE, "RN"),
    ("manager.hal", "Hal", "Becker", Role.MANAGER, ""),
    ("admin", "Ivy", "Admin", Role.ADMIN, ""),
]
# Which care teams (by provider username) each staff member works.
TEAMS: dict[str, list[str]] = {
    "fo.amy": ["dr.rivera", "dr.chen"],
    "fo.ben": ["dr.chen", "np.okafor"],
    "bill.cara": ["dr.rivera", "dr.chen", "np.okafor"],
    "bill.dan": ["dr.rivera"],
    "cs.eve": ["dr.rivera", "dr.chen"],
    "cs.finn": ["np.okafor"],
    "nurse.gia": ["dr.rivera", "dr.chen", "np.okafor"],
}
PAYERS = [
    ("Blue Harbor Health", "BHH01", False, 180),
    ("Summit Mutual Insurance", "SMT02", False, 90),
    ("Evergreen HMO", "EVG03", True, 120),
    ("Medicare Part B (demo)", "MCRDM", False, 365),
    ("State Medicaid Plan (demo)", "MCDDM", False, 365),
    ("Keystone Commercial", "KSC06", False, 180),
    ("Lakeside Employers Trust", "LET07", False, 90),
]
# Member-id endings the simulated payer answers with a specific case (see eligibility/x12/simulator.py).
SPECIAL_ENDINGS = ["72", "73", "75", "58", "42", "06", "07", "98"]
VISIT_TYPES = [
    ("New patient visit", 40),
    ("Follow-up", 20),
    ("Annual wellness", 30),
    ("Sick visit", 20),
    ("Telehealth follow-up", 20),
]


# Appointment types (practice data): name -> (minutes, new/established, telehealth, prior-auth check, colour).
APPOINTMENT_TYPES: dict[str, tuple[int, str, bool, bool, str]] = {
    "New patient visit": (40, "new", False, False, "#7f56d9"),
    "Follow-up": (20, "established", False, False, "#2e90fa"),
    "Annual wellness": (30, "established", False, False, "#12b76a"),
    "Sick visit": (20, "any", False, False, "#f79009"),
    "Telehealth follow-up": (20, "established", True, False, "#0ba5ec"),
    "Procedure": (60, "established", False, True, "#f04438"),
}


def seed_schedules(providers: list[User]) -> dict[str, AppointmentType]:
    """Appointment types, and Mon-Fri 08:00-17:00 with lunch 12-13 (and one admin hour) per provider."""
    types = {
        name: AppointmentType.objects.create(
            name=name, duration_minutes=m, patient_kind=kind, telehealth=tele, needs_prior_auth_check=pa, colour=c
        )
        for name, (m, kind, tele, pa, c) in APPOINTMENT_TYPES.items()
    }
    main = Location.objects.create(name="Main office", address="100 Demo Way")
    for i, provider in enumerate(providers):
        for weekday in range(5):
            template = ScheduleTemplate.objects.create(
                provider=provider, weekday=weekday, location=main, start_time=time(8, 0), end_time=time(17, 0)
            )
            TemplateBlock.objects.create(template=template, kind="lunch", start_time=time(12, 0), end_time=time(13, 0))
            if weekday == (i + 2) % 5:
                TemplateBlock.objects.create(
                    template=template, kind="admin", start_time=time(16, 0), end_time=time(17, 0)
                )
    return types


def make_npi(rng: random.Random) -> str:
    first_nine = "1" + "".join(str(rng.randint(0, 9)) for _ in range(8))
    return first_nine + str(npi_check_digit(first_nine))


class Command(BaseCommand):
    help = "Create the synthetic demo clinic (deterministic). Does nothing if patients already exist."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        if Patient.objects.exists():
            self.stdout.write("The database already has patients; nothing seeded.")
        else:
            self._seed(options["patients"])
        self._print_logins()

    @transaction.atomic
    def _seed(self, n_patients: int) -> None:
        rng = random.Random(SEED)
        fake = Faker("en_US")
        fake.seed_instance(SEED)
        sync_role_groups()
        groups = {g.name: g for g in Group.objects.filter(name__in=Role.values)}

        users: dict[str, User] = {}
        for username, first, last, role, creds in STAFF:
            user = User(
                username=username,
                first_name=first,
                last_name=last,
                credentials=creds,
                email=f"{username}@demo-clinic.invalid",
                is_staff=role == Role.ADMIN,
                npi=make_npi(rng) if role == Role.PROVIDER else "",
            )
            user.set_password(DEMO_PASSWORD)
            user.save()
            user.groups.add(groups[role])
            users[username] = user

        teams: dict[str, CareTeam] = {}
        for username in ("dr.rivera", "dr.chen", "np.okafor"):
            provider = users[username]
            team = CareTeam.objects.create(name=f"Team {provider.last_name}", provider=provider)
            add_to_care_team(provider, team)
            teams[username] = team
        for username, leads in TEAMS.items():
            for lead in leads:
                add_to_care_team(users[username], teams[lead])

        payers = [
            Payer.objects.create(name=n, payer_id=i, requires_referral=r, timely_filing_days=d) for n, i, r, d in PAYERS
        ]

        today = timezone.localdate()
        patients = []
        for i in range(n_patients):
            sex = rng.choice(["F", "M"])
            first = fake.first_name_female() if sex == "F" else fake.first_name_male()
            age_days = rng.randint(2 * 365, 92 * 365)
            patients.append(
                Patient(
                    mrn=f"MRN{100000 + i}",
                    first_name=first,
                    last_name=fake.last_name(),
                    date_of_birth=today - timedelta(days=age_days),
                    sex=sex,
                    phone=f"555-01{rng.randint(0, 99):02d}",
                    email=f"patient{i}@example.invalid",
                    address_line=fake.street_address(),
                    city=fake.city(),
                    state=fake.state_abbr(),
                    postal_code=fake.zipcode(),
                    preferred_channel=rng.choice(list(Patient.Channel.values)),
                    language=rng.choices(["English", "Spanish", "Vietnamese", "Mandarin"], [80, 14, 3, 3])[0],
                    care_team=list(teams.values())[i % 3],
                )
            )
        Patient.objects.bulk_create(patients, batch_size=500)
        patients = list(Patient.objects.order_by("id"))

        coverages = []
        year_start = date(today.year, 1, 1)
        for i, p in enumerate(patients):
            if rng.random() < 0.06:
                continue  # self-pay
            payer = payers[3] if p.age_on(today) >= 65 else rng.choice(payers)
            ending = SPECIAL_ENDINGS[i % len(SPECIAL_ENDINGS)] if i % 25 == 0 else f"{rng.randint(10, 97):02d}"
            member_id = f"{payer.payer_id[:2]}{rng.randint(1000000, 9999999)}{ending}"
            coverages.append(
                Coverage(
                    patient=p,
                    payer=payer,
                    rank=1,
                    member_id=member_id,
                    group_number=f"G{rng.randint(1000, 9999)}",
                    plan_name=f"{payer.name} PPO",
                    plan_begin=year_start,
                )
            )
            if rng.random() < 0.12:
                second = rng.choice([x for x in payers if x != payer])
                coverages.append(
                    Coverage(
                        patient=p,
                        payer=second,
                        rank=2,
                        member_id=f"{second.payer_id[:2]}{rng.randint(1000000, 9999999)}{rng.randint(10, 97)}",
                        plan_begin=year_start,
                    )
                )
        Coverage.objects.bulk_create(coverages, batch_size=500)

        appointments = []
        providers = [users[u] for u in ("dr.rivera", "dr.chen", "np.okafor")]
        appointment_types = seed_schedules(providers)
        by_team = {t.pk: [p for p in patients if p.care_team_id == t.pk] for t in teams.values()}
        for day_offset in range(1, 15):
            day = today + timedelta(days=day_offset)
            if day.weekday() >= 5:
                continue
            for provider, team in zip(providers, teams.values(), strict=True):
                slot = datetime.combine(day, time(8, 30))
                for _ in range(rng.randint(9, 13)):
                    visit, minutes = rng.choice(VISIT_TYPES)
                    appointments.append(
                        Appointment(
                            patient=rng.choice(by_team[team.pk]),
                            provider=provider,
                            start_at=timezone.make_aware(slot),
                            duration_minutes=minutes,
                            visit_type=visit,
                            appointment_type=appointment_types[visit],
                            telehealth_room=f"demo-{provider.pk}-{slot:%Y%m%d%H%M}"
                            if visit.startswith("Telehealth")
                            else "",
                            telehealth=visit.startswith("Telehealth"),
                            reason=rng.choice(
                                ["", "Follow-up of blood pressure", "Cough", "Medication review", "Annual physical"]
                            ),
                        )
                    )
                    slot += timedelta(minutes=minutes)
                    if time(12, 0) <= slot.time() < time(13, 0):
                        slot = datetime.combine(day, time(13, 0))
        Appointment.objects.bulk_create(appointments, batch_size=500)
        audit.append(
            kind="write",
            action="seed_demo",
            target="demo clinic",
            patient_ids=[p.pk for p in patients],
            detail={"patients": len(patients), "appointments": len(appointments)},
        )

        # Open work: self-pay patients with visits, call-backs, documents to index.
        with_coverage = set(Coverage.objects.values_list("patient_id", flat=True))
        now = timezone.now()
        for p in patients:
            if p.pk not in with_coverage:
                workflow.open_work_item(
                    kind="patients.coverage_review",
                    subject=p,
                    patient=p,
                    title=f"No coverage on file: {p.last_name}",
                    detail="Confirm self-pay or collect insurance before the next visit.",
                    due_at=now + timedelta(hours=rng.randint(-30, 48)),
                )
        for p in rng.sample(patients, min(40, len(patients))):
            workflow.open_work_item(
                kind="patients.callback",
                subject=p,
                patient=p,
                title=f"Call back {p.first_name} {p.last_name}",
                detail=rng.choice(
                    ["Question about a bill", "Wants to reschedule", "Asks for lab results", "Form to be completed"]
                ),
                due_at=now + timedelta(hours=rng.randint(-6, 24)),
                priority=rng.choice([2, 3, 3, 4]),
            )
        for p in rng.sample(patients, min(25, len(patients))):
            workflow.open_work_item(
                kind="patients.document_index",
                subject=p,
                patient=p,
                title=f"Index faxed document for {p.last_name}",
                detail=rng.choice(["Outside lab results", "ER discharge summary", "Consult note from cardiology"]),
                due_at=now + timedelta(hours=rng.randint(-4, 12)),
            )
        # A little history, so queue health shows a median time to close.
        okafor_team = teams["np.okafor"].pk
        for item in list(
            WorkItem.objects.filter(kind="patients.callback").select_related("patient").order_by("id")[:6]
        ):
            item.created_at = now - timedelta(hours=rng.randint(2, 30))
            item.save(update_fields=["created_at"])
            team_id = item.patient.care_team_id if item.patient is not None else None
            worker = users["fo.ben"] if team_id == okafor_team else users["fo.amy"]
            workflow.complete_item(
                workflow.claim_item(item, actor=worker), actor=worker, note="Called the patient; question answered."
            )
        # Billing: the practice's codes, payer profiles, a fee schedule and one draft claim (missing modifier 25).
        from billing.demo import seed_billing

        seed_billing()
        # The later apps seed their own demo data (`<app>/demo.py::seed()`, each idempotent), in this order:
        # encounters before the orders that hang off them, orders before the refills and referrals.
        import importlib
        import importlib.util

        for app in ("encounters", "orders", "refills", "referrals", "telehealth"):
            if importlib.util.find_spec(f"{app}.demo") is not None:
                importlib.import_module(f"{app}.demo").seed()

    def _print_logins(self) -> None:
        self.stdout.write(f"\nDemo clinic logins (password for all: {DEMO_PASSWORD}):")
        for username, first, last, role, _creds in STAFF:
            self.stdout.write(f"  {username:<12} {first} {last:<10} {Role(role).label}")
        self.stdout.write("Open http://127.0.0.1:8000 and sign in.\n")
