"""Prior authorizations: the transition table, permissions, deadlines, follow-ups, rules, booking's hook."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from eligibility import priorauth, priorauth_services
from eligibility.models import PriorAuthorization, PriorAuthRule
from patients.models import Coverage
from tests.factories import AppointmentFactory, CoverageFactory, PatientFactory, PayerFactory, UserFactory
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import WorkItem
from vma.roles import Role
from vma.schedule import PERIODIC_TASKS

S = PriorAuthorization.Status
U = PriorAuthorization.Urgency
# A Friday in February: no daylight-saving change within the next two weeks (America/New_York).
FRIDAY = timezone.make_aware(datetime(2026, 2, 6, 10, 0))
TODAY = FRIDAY.date()


def items(kind: str = priorauth.FOLLOW_UP, **filters: Any):
    return WorkItem.objects.filter(kind=kind, status__in=WorkItem.OPEN_STATES, **filters)


def make(patient, status: str, *, requested_units: int | None = 10, **kw: Any) -> PriorAuthorization:
    """An authorization put straight into a state (test set-up only), respecting the constraints."""
    # Inactive: a patient has one active coverage per rank, and a test makes many of these.
    coverage = CoverageFactory(patient=patient, active=False)
    submitted = status not in (S.REQUIRED, S.WITHDRAWN)
    approved = status in (S.APPROVED, S.PARTIALLY_APPROVED, S.EXPIRED)
    fields: dict[str, Any] = {
        "patient": patient,
        "coverage": coverage,
        "payer": coverage.payer,
        "service_code": "70551",
        "status": status,
        "requested_units": requested_units,
        "submitted_at": FRIDAY if submitted else None,
        "decision_due_at": FRIDAY + timedelta(days=7) if submitted else None,
        "next_follow_up_at": priorauth.add_business_days(FRIDAY, 2) if status in (S.SUBMITTED, S.PENDING) else None,
        "approved_units": 10 if approved else None,
        "valid_from": TODAY if approved else None,
        "valid_to": TODAY + timedelta(days=90) if approved else None,
        "authorization_number": "AUTH-1" if approved else "",
    }
    fields.update(kw)
    return PriorAuthorization.objects.create(**fields)


def approve(auth, *, units: int = 10, days: int = 90, actor=None, now=FRIDAY) -> PriorAuthorization:
    return priorauth.approve(
        auth,
        actor=actor,
        authorization_number="A-778",
        approved_units=units,
        valid_from=now.date(),
        valid_to=now.date() + timedelta(days=days),
        now=now,
    )


def move_to(auth: PriorAuthorization, target: str, actor=None) -> PriorAuthorization:
    if target == S.SUBMITTED:
        return priorauth.submit(auth, actor=actor, urgency=U.STANDARD, now=FRIDAY)
    if target == S.PENDING:
        return priorauth.mark_pending(auth, actor=actor, payer_reference="REF-9")
    if target == S.APPROVED:
        return approve(auth, actor=actor)
    if target == S.PARTIALLY_APPROVED:
        return approve(auth, units=4, actor=actor)
    if target == S.DENIED:
        return priorauth.deny(auth, actor=actor, reason="Not medically necessary")
    if target == S.WITHDRAWN:
        return priorauth.withdraw(auth, actor=actor, reason="Visit cancelled")
    assert target == S.EXPIRED
    return priorauth.expire(auth, actor=actor)


# --- the transition table -------------------------------------------------------------------------


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("target", [s for s in S if s != S.REQUIRED])
def test_every_pair_follows_the_table(patient, source, target):
    auth = make(patient, source)
    if target in priorauth.TRANSITIONS[source]:
        moved = move_to(auth, target)
        auth.refresh_from_db()
        assert moved.status == auth.status == target
    else:
        with pytest.raises(ActionRefused):
            move_to(auth, target)
        auth.refresh_from_db()
        assert auth.status == source


def test_nothing_moves_back_to_required():
    # "required" is only ever the state a new request starts in.
    assert all(S.REQUIRED not in targets for targets in priorauth.TRANSITIONS.values())


@pytest.mark.parametrize("role", [Role.MANAGER, Role.PROVIDER, Role.NURSE, Role.BILLING])
@pytest.mark.parametrize("target", [S.SUBMITTED, S.WITHDRAWN])
def test_no_permission_is_refused_and_nothing_changes(practice, patient, role, target):
    auth = make(patient, S.REQUIRED)
    with pytest.raises(NotPermitted):
        move_to(auth, target, actor=practice.users[role])
    auth.refresh_from_db()
    assert auth.status == S.REQUIRED


@pytest.mark.parametrize("source", [S.SUBMITTED, S.PENDING])
def test_another_teams_worker_is_refused_every_decision(practice, other_patient, source):
    worker = practice.users[Role.FRONT_OFFICE]
    for target in (S.APPROVED, S.DENIED, S.WITHDRAWN):
        auth = make(other_patient, source)
        with pytest.raises(NotPermitted):
            move_to(auth, target, actor=worker)
        auth.refresh_from_db()
        assert auth.status == source


def test_record_use_needs_permission(practice, patient):
    auth = make(patient, S.APPROVED)
    with pytest.raises(NotPermitted):
        priorauth.record_use(auth, actor=practice.users[Role.PROVIDER], units=1, on=TODAY)
    auth.refresh_from_db()
    assert auth.units_used == 0


def test_a_permitted_worker_submits_and_is_recorded(practice, patient):
    worker = practice.users[Role.CLINICAL_SUPPORT]
    auth = priorauth.submit(make(patient, S.REQUIRED), actor=worker, urgency=U.EXPEDITED, now=FRIDAY)
    assert (auth.status, auth.submitted_by, auth.updated_by) == (S.SUBMITTED, worker, worker)


# --- decision deadlines (CMS-0057-F) -----------------------------------------------------------------


@pytest.mark.parametrize(("urgency", "window"), [(U.EXPEDITED, timedelta(hours=72)), (U.STANDARD, timedelta(days=7))])
def test_submission_starts_the_decision_clock(patient, urgency, window):
    auth = priorauth.submit(make(patient, S.REQUIRED), actor=None, urgency=urgency, now=FRIDAY)
    assert auth.submitted_at == FRIDAY and auth.decision_due_at == FRIDAY + window
    assert auth.urgency == urgency


def test_unknown_urgency_is_a_field_error(patient):
    with pytest.raises(ActionRefused) as refused:
        priorauth.submit(make(patient, S.REQUIRED), actor=None, urgency="whenever", now=FRIDAY)
    assert refused.value.status_code == 400


# --- follow-ups every 2 business days ----------------------------------------------------------------


def at(day_offset: int, hour: int = 10, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(TODAY + timedelta(days=day_offset), datetime.min.time())).replace(
        hour=hour, minute=minute
    )


def test_business_days_skip_the_weekend():
    assert timezone.localtime(priorauth.add_business_days(FRIDAY, 2)) == at(4)  # Tuesday
    assert timezone.localtime(priorauth.add_business_days(at(1), 1)) == at(3)  # Saturday -> Monday
    assert timezone.localtime(priorauth.add_business_days(at(-3), 2)) == at(-1)  # Tuesday -> Thursday


def test_friday_submission_is_followed_up_on_tuesday_and_every_2_business_days(patient):
    auth = make(patient, S.REQUIRED)
    priorauth._open_needed(auth, now=FRIDAY, actor=None)
    auth = priorauth.submit(auth, actor=None, urgency=U.STANDARD, now=FRIDAY)
    assert not items().exists()  # the "needs submitting" item was closed by the submission
    assert timezone.localtime(auth.next_follow_up_at) == at(4)

    priorauth_services.sweep_prior_auths(now=at(3, 17))  # Monday evening: too early
    assert not items().exists()
    priorauth_services.sweep_prior_auths(now=at(4))  # Tuesday 10:00
    [first] = items()
    assert first.subject == auth and first.priority == WorkItem.Priority.NORMAL and first.queue == Role.FRONT_OFFICE
    assert "Follow up with" in first.title

    priorauth.record_contact(auth, actor=None, note="Payer says in review", now=at(4, 11))
    first.refresh_from_db()
    assert first.status == WorkItem.Status.DONE
    priorauth_services.sweep_prior_auths(now=at(5, 12))  # Wednesday: one business day after the call
    assert not items().exists()
    priorauth_services.sweep_prior_auths(now=at(6, 11))  # Thursday 11:00: two business days after
    assert items().count() == 1
    assert WorkItem.objects.filter(kind=priorauth.FOLLOW_UP).count() == 3  # needed, Tuesday, Thursday


def test_sweeper_run_twice_opens_nothing_twice(patient):
    awaiting = [
        priorauth.submit(make(patient, S.REQUIRED), actor=None, urgency=u, now=FRIDAY)
        for u in (U.STANDARD, U.EXPEDITED)
    ]
    approve(make(patient, S.PENDING, decision_due_at=FRIDAY + timedelta(days=7)), days=10)
    denied = priorauth.deny(make(patient, S.SUBMITTED), actor=None, reason="No records")
    later = at(4)
    first = priorauth_services.sweep_prior_auths(now=later)
    second = priorauth_services.sweep_prior_auths(now=later)
    assert (first.follow_ups, first.overdue) == (2, 1)
    assert (second.follow_ups, second.overdue, second.running_out, second.expired) == (0, 0, 0, 0)
    assert items().count() == 2 and set(items().values_list("subject_id", flat=True)) == {a.pk for a in awaiting}
    assert items(priorauth.EXPIRING).count() == 1 and items(priorauth.APPEAL).get().subject == denied


def test_passed_decision_deadline_opens_an_urgent_item(patient):
    auth = priorauth.submit(make(patient, S.REQUIRED), actor=None, urgency=U.EXPEDITED, now=FRIDAY)
    priorauth_services.sweep_prior_auths(now=FRIDAY + timedelta(hours=71))
    assert not items().exists()
    result = priorauth_services.sweep_prior_auths(now=FRIDAY + timedelta(hours=72, minutes=1))
    [item] = items()
    assert result.overdue == 1 and item.priority == WorkItem.Priority.URGENT and "overdue" in item.title
    auth.refresh_from_db()
    assert auth.deadline_flagged_at is not None


def test_an_open_routine_follow_up_is_replaced_by_one_urgent_item(patient):
    priorauth.submit(make(patient, S.REQUIRED), actor=None, urgency=U.STANDARD, now=FRIDAY)
    priorauth_services.sweep_prior_auths(now=at(4))
    assert items().get().priority == WorkItem.Priority.NORMAL
    priorauth_services.sweep_prior_auths(now=FRIDAY + timedelta(days=7, minutes=1))
    [item] = items()
    assert item.priority == WorkItem.Priority.URGENT
    assert WorkItem.objects.filter(kind=priorauth.FOLLOW_UP, status=WorkItem.Status.CANCELLED).count() == 1


def test_denial_opens_an_appeal_or_peer_to_peer_item(patient):
    auth = priorauth.deny(make(patient, S.PENDING), actor=None, reason="Conservative therapy not tried")
    [item] = items(priorauth.APPEAL)
    assert item.queue == Role.CLINICAL_SUPPORT and "Appeal" in item.title and "Conservative" in item.detail
    assert auth.decision_reason == "Conservative therapy not tried" and not items().exists()
    priorauth.deny(make(patient, S.SUBMITTED), actor=None, reason="Imaging not indicated", peer_to_peer=True)
    assert items(priorauth.APPEAL, title__startswith="Request a peer-to-peer").count() == 1


def test_denial_without_a_reason_is_refused(patient):
    auth = make(patient, S.PENDING)
    with pytest.raises(ActionRefused) as refused:
        priorauth.deny(auth, actor=None, reason="  ")
    assert refused.value.status_code == 400
    auth.refresh_from_db()
    assert auth.status == S.PENDING


# --- approvals: partial, units, expiry -------------------------------------------------------------


def test_fewer_units_than_asked_is_a_partial_approval(patient):
    auth = approve(make(patient, S.PENDING, requested_units=12), units=6)
    assert auth.status == S.PARTIALLY_APPROVED and auth.approved_units == 6 and auth.units_left == 6
    full = approve(make(patient, S.PENDING, requested_units=None), units=6)
    assert full.status == S.APPROVED


def test_approval_with_bad_terms_is_refused_and_nothing_is_lost(patient):
    auth = make(patient, S.PENDING)
    with pytest.raises(ActionRefused):
        priorauth.approve(
            auth,
            actor=None,
            authorization_number="A1",
            approved_units=3,
            valid_from=TODAY,
            valid_to=TODAY - timedelta(1),
        )
    with pytest.raises(ActionRefused):
        approve(auth, units=0)
    auth.refresh_from_db()
    assert auth.status == S.PENDING and auth.authorization_number == ""


def test_units_used_past_80_percent_opens_one_item_and_overuse_is_refused(patient):
    auth = approve(make(patient, S.PENDING))
    priorauth.record_use(auth, actor=None, units=7, on=TODAY, now=FRIDAY)
    assert not items(priorauth.EXPIRING).exists()
    auth = priorauth.record_use(auth, actor=None, units=1, on=TODAY, now=FRIDAY)
    [item] = items(priorauth.EXPIRING)
    assert auth.units_used == 8 and "8 of 10 units used" in item.title
    with pytest.raises(ActionRefused, match="Only 2 of 10 approved unit"):
        priorauth.record_use(auth, actor=None, units=3, on=TODAY, now=FRIDAY)
    auth.refresh_from_db()
    assert auth.units_used == 8
    priorauth.record_use(auth, actor=None, units=2, on=TODAY, now=FRIDAY)
    assert items(priorauth.EXPIRING).count() == 1


def test_use_outside_the_approved_dates_is_refused(patient):
    auth = approve(make(patient, S.PENDING), days=30)
    with pytest.raises(ActionRefused, match="is valid"):
        priorauth.record_use(auth, actor=None, units=1, on=TODAY + timedelta(days=31))
    with pytest.raises(ActionRefused):
        priorauth.record_use(make(patient, S.PENDING), actor=None, units=1, on=TODAY)


def test_approval_ending_within_14_days_opens_an_item_then_expires(patient):
    auth = approve(make(patient, S.PENDING), days=30)
    assert not items(priorauth.EXPIRING).exists()
    assert priorauth_services.sweep_prior_auths(now=FRIDAY + timedelta(days=15)).running_out == 0
    result = priorauth_services.sweep_prior_auths(now=FRIDAY + timedelta(days=16))
    [item] = items(priorauth.EXPIRING)
    assert result.running_out == 1 and "ends" in item.title
    result = priorauth_services.sweep_prior_auths(now=FRIDAY + timedelta(days=31))
    auth.refresh_from_db()
    item.refresh_from_db()
    assert result.expired == 1 and auth.status == S.EXPIRED and item.status == WorkItem.Status.DONE
    short = approve(make(patient, S.PENDING), days=10)
    assert items(priorauth.EXPIRING, subject_id=short.pk).count() == 1  # flagged at once


def test_withdrawal_cancels_the_open_work(patient):
    auth = make(patient, S.REQUIRED)
    priorauth._open_needed(auth, now=FRIDAY, actor=None)
    priorauth.withdraw(auth, actor=None, reason="Visit cancelled")
    assert not items().exists()
    assert WorkItem.objects.get(kind=priorauth.FOLLOW_UP).status == WorkItem.Status.CANCELLED


def test_the_sweep_is_declared_hourly():
    assert PERIODIC_TASKS["prior authorization sweep"] == ("eligibility.priorauth_tasks.sweep_prior_auths", 3600)


# --- the rules ---------------------------------------------------------------------------------------


def rule(**kw: Any) -> PriorAuthRule:
    return PriorAuthRule.objects.create(**{"effective_from": date(2025, 1, 1), **kw})


def test_rules_match_by_payer_code_and_category(db):
    aetna, cigna = PayerFactory(), PayerFactory()
    mri = rule(code="70551")
    drug = rule(category="Specialty drug", payer=aetna)
    assert priorauth_services.authorization_required(cigna, code="70551", on=TODAY) == mri
    assert priorauth_services.authorization_required(cigna, code=" 70551 ", category="x", on=TODAY) == mri
    assert priorauth_services.authorization_required(aetna, category="specialty drug", on=TODAY) == drug
    assert priorauth_services.authorization_required(cigna, category="specialty drug", on=TODAY) is None
    assert priorauth_services.authorization_required(cigna, code="99213", on=TODAY) is None
    assert priorauth_services.authorization_required(None, code="70551", on=TODAY) == mri
    assert priorauth_services.authorization_required(cigna, on=TODAY) is None


def test_the_payers_own_rule_beats_the_default_and_can_exempt(db):
    aetna, cigna = PayerFactory(), PayerFactory()
    rule(code="70551", turnaround_days=7)
    rule(code="70551", payer=aetna, required=False)
    own = rule(code="70551", payer=cigna, turnaround_days=3)
    assert priorauth_services.authorization_required(aetna, code="70551", on=TODAY) is None
    assert priorauth_services.authorization_required(cigna, code="70551", on=TODAY) == own
    # A code is more specific than a category.
    rule(category="advanced imaging", required=False)
    assert priorauth_services.authorization_required(cigna, code="70551", category="advanced imaging", on=TODAY) == own


def test_rules_apply_only_while_in_effect_and_active(db):
    payer = PayerFactory()
    old = rule(code="J0135", effective_from=date(2025, 1, 1), effective_to=date(2025, 12, 31))
    new = rule(code="J0135", effective_from=date(2026, 1, 1))
    rule(code="J9999", active=False)
    assert priorauth_services.authorization_required(payer, code="J0135", on=date(2025, 6, 1)) == old
    assert priorauth_services.authorization_required(payer, code="J0135", on=date(2026, 6, 1)) == new
    assert priorauth_services.authorization_required(payer, code="J0135", on=date(2024, 6, 1)) is None
    assert priorauth_services.authorization_required(payer, code="J9999", on=date(2026, 6, 1)) is None


# --- booking's hook and the flags ----------------------------------------------------------------------


def visit_type(name: str, **fields: Any) -> Any:
    """A scheduling appointment type; fields it does not have (yet) are left out."""
    try:
        model = django_apps.get_model("scheduling", "AppointmentType")
    except LookupError:  # scheduling without types: the shape open_for_appointment reads
        return SimpleNamespace(name=name, **fields)
    names = {f.name for f in model._meta.get_fields()}
    kind, _ = model.objects.get_or_create(name=name, defaults={k: v for k, v in fields.items() if k in names})
    return kind


def booked(patient, *, name: str = "MRI brain", needs_check: bool = True, days: int = 10):
    visit = AppointmentFactory(patient=patient, start_at=FRIDAY + timedelta(days=days), visit_type=name)
    visit.appointment_type = visit_type(name, needs_prior_auth_check=needs_check)
    return visit


def test_open_for_appointment_requires_once_and_opens_one_item(practice, patient):
    payer = PayerFactory()
    coverage = CoverageFactory(patient=patient, payer=payer)
    rule(category="MRI brain", payer=payer)  # the type's name stands for its category
    visit = booked(patient)
    actor = practice.users[Role.PROVIDER]  # booking by anyone: the rule decides, the actor is recorded
    first = priorauth_services.open_for_appointment(visit, actor=actor, now=FRIDAY)
    second = priorauth_services.open_for_appointment(visit, actor=actor, now=FRIDAY)
    assert first is not None and second is not None and first.pk == second.pk
    assert (first.status, first.coverage, first.payer, first.appointment) == (S.REQUIRED, coverage, payer, visit)
    assert first.created_by == actor and first.category == "mri brain"
    [item] = items()
    assert item.title.startswith("Prior authorization needed before Mon Feb 16") and item.subject == first
    assert item.due_at <= visit.start_at - timedelta(days=7)


def test_open_for_appointment_does_nothing_unless_required(patient):
    payer = PayerFactory()
    CoverageFactory(patient=patient, payer=payer)
    rule(category="MRI brain", payer=payer)
    rule(category="Knee injection", payer=PayerFactory())  # another payer's rule
    assert priorauth_services.open_for_appointment(booked(patient, name="Knee injection"), now=FRIDAY) is None
    assert priorauth_services.open_for_appointment(booked(patient, name="Office visit"), now=FRIDAY) is None
    unchecked = booked(patient, name="MRI brain, no check", needs_check=False)
    rule(category="MRI brain, no check", payer=payer)
    assert priorauth_services.open_for_appointment(unchecked, now=FRIDAY) is None
    plain = AppointmentFactory(patient=patient)  # no type at all
    assert priorauth_services.open_for_appointment(plain, now=FRIDAY) is None
    self_pay = PatientFactory(care_team=patient.care_team)
    assert priorauth_services.open_for_appointment(booked(self_pay), now=FRIDAY) is None
    secondary_only = PatientFactory(care_team=patient.care_team)
    CoverageFactory(patient=secondary_only, payer=payer, rank=Coverage.Rank.SECONDARY)
    assert priorauth_services.open_for_appointment(booked(secondary_only), now=FRIDAY) is None
    assert not PriorAuthorization.objects.exists() and not items().exists()


def test_open_for_order_without_a_visit(patient):
    payer = PayerFactory()
    CoverageFactory(patient=patient, payer=payer)
    rule(category="specialty drug")
    auth = priorauth_services.open_for_order(
        patient, service_code="Humira", category="Specialty drug", requested_units=6, on=TODAY, now=FRIDAY
    )
    again = priorauth_services.open_for_order(patient, service_code="humira", category="specialty drug", on=TODAY)
    assert auth is not None and again is not None and auth.pk == again.pk
    assert (auth.appointment, auth.service_code, auth.category, auth.requested_units) == (
        None,
        "HUMIRA",
        "specialty drug",
        6,
    )


def test_require_refuses_a_role_without_the_permission(practice, patient):
    with pytest.raises(NotPermitted):
        priorauth.require(CoverageFactory(patient=patient), service_code="70551", actor=practice.users[Role.NURSE])
    assert not PriorAuthorization.objects.exists()


def test_flags_for_a_day_of_visits_in_one_query(patient):
    visits = [AppointmentFactory(patient=patient) for _ in range(6)]
    none, missing, pending, approved, denied, renewed = visits
    make(patient, S.REQUIRED, appointment=missing)
    make(patient, S.SUBMITTED, appointment=pending)
    make(patient, S.APPROVED, appointment=approved)
    make(patient, S.PENDING, appointment=approved, service_code="J0135")  # a second service, still pending
    make(patient, S.DENIED, appointment=denied)
    make(patient, S.DENIED, appointment=renewed, created_at=FRIDAY - timedelta(days=1))
    make(patient, S.REQUIRED, appointment=renewed)
    with CaptureQueriesContext(connection) as queries:
        flags = priorauth_services.authorization_flags(visits)
    assert len(queries) == 1
    assert flags == {
        none.pk: None,
        missing.pk: "missing",
        pending.pk: "pending",
        approved.pk: "pending",
        denied.pk: "denied",
        renewed.pk: "missing",
    }
    assert priorauth_services.authorization_flag(missing) == "missing"


def test_someone_else_cannot_be_given_a_visit_of_another_patient(patient):
    other = AppointmentFactory(patient=PatientFactory(care_team=patient.care_team))
    with pytest.raises(ActionRefused):
        priorauth.require(CoverageFactory(patient=patient), service_code="70551", appointment=other)


def test_outsider_user_cannot_require(patient):
    outsider = UserFactory(role=Role.FRONT_OFFICE)
    with pytest.raises(NotPermitted):
        priorauth.require(CoverageFactory(patient=patient), service_code="70551", actor=outsider)
