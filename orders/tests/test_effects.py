"""What signing sets in motion, after commit, once: results awaited, pharmacy, referral, follow-up, prior auth."""

from __future__ import annotations

import sys
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from eligibility.models import PriorAuthorization, PriorAuthRule
from eligibility.priorauth import add_business_days
from orders import effects
from orders.models import Order
from patients.models import ExpectedResult, Medication
from tests.factories import CoverageFactory
from vma import outbox
from vma.models import OutboxMessage, WorkItem
from vma.roles import Role

from .factories import fresh, pend, sign

pytestmark = pytest.mark.django_db


def deliver_all() -> list[str]:
    ids = OutboxMessage.objects.filter(status="pending", handler="orders.apply_effects").values_list("id", flat=True)
    return [outbox.deliver(i) for i in list(ids)]


def signed(visit, vma, provider, kind: str, **fields) -> Order:
    order = pend(visit, vma, kind, **fields)
    assert sign(provider, order).signed
    assert deliver_all() == ["done"]
    return fresh(order)


def test_effects_wait_for_commit(visit, vma, provider, django_capture_on_commit_callbacks):
    order = pend(visit, vma, "lab")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sign(provider, order)
    # signed, but nothing done yet: only an outbox row and a publish waiting for commit
    assert callbacks and not ExpectedResult.objects.exists()
    assert OutboxMessage.objects.get(handler="orders.apply_effects").status == "pending"


@pytest.mark.parametrize(("kind", "category"), [("lab", "lab_result"), ("imaging", "imaging")])
def test_lab_and_imaging_await_a_result(visit, vma, provider, kind, category):
    order = signed(visit, vma, provider, kind)
    result = ExpectedResult.objects.get(patient=visit.patient)
    assert order.expected_result == result and result.category == category
    assert result.title == order.title and str(order.public_id) in result.source
    assert result.expected_by == timezone.localdate(order.signed_at) + timedelta(days=order.result_expected_days)
    assert order.effects_done_at is not None


def test_effects_are_applied_once_even_if_delivered_twice(visit, vma, provider):
    order = signed(visit, vma, provider, "lab")
    OutboxMessage.objects.filter(handler="orders.apply_effects").update(status="pending")
    assert deliver_all() == ["done"]
    effects.apply_effects({"order_id": order.pk})
    assert ExpectedResult.objects.filter(patient=visit.patient).count() == 1


def test_a_prescription_goes_to_the_pharmacy_and_the_medication_list(visit, vma, provider):
    order = signed(visit, vma, provider, "prescription")
    assert order.pharmacy_status == Order.PharmacyStatus.ACCEPTED and order.sent_at is not None
    assert order.pharmacy_confirmation.startswith("CONSOLE-")
    med = Medication.objects.get(patient=visit.patient)
    assert (med.name, med.dose, med.sig, med.source) == ("atorvastatin", "20 mg", "take 1 tablet daily", "clinician")
    assert order.medication == med and med.recorded_by == provider
    assert not WorkItem.objects.filter(kind=effects.PHARMACY_FAILED).exists()


def test_a_refused_transmission_opens_a_work_item_with_the_reason(visit, vma, provider):
    order = signed(visit, vma, provider, "prescription", pharmacy="REJECT Pharmacy")
    assert order.pharmacy_status == Order.PharmacyStatus.REFUSED
    assert "not a participating pharmacy" in order.pharmacy_confirmation
    item = WorkItem.objects.get(kind=effects.PHARMACY_FAILED)
    assert item.patient == visit.patient and item.queue == Role.CLINICAL_SUPPORT
    assert "not a participating pharmacy" in item.detail and item.subject == order


def test_a_pharmacy_outage_is_retried_by_the_outbox(visit, vma, provider, settings, monkeypatch):
    order = pend(visit, vma, "prescription")
    sign(provider, order)

    class Down:
        def send(self, message):
            raise ConnectionError("pharmacy network unreachable")

    monkeypatch.setattr(effects, "get_backend", lambda: Down())
    assert deliver_all() == ["retry"]
    assert fresh(order).pharmacy_status == "" and not Medication.objects.exists()  # rolled back, to retry


def test_a_referral_starts_the_referral_workflow(visit, vma, provider, monkeypatch):
    import referrals.services

    made = []

    def create_from_order(order):
        made.append(order.pk)
        return SimpleNamespace(public_id="5f0c7f1e-0000-4000-8000-000000000001", pk=1)

    monkeypatch.setattr(referrals.services, "create_from_order", create_from_order, raising=False)
    order = signed(visit, vma, provider, "referral")
    assert made == [order.pk] and order.referral_ref == "5f0c7f1e-0000-4000-8000-000000000001"
    assert not WorkItem.objects.filter(kind=effects.REFERRAL_TO_SEND).exists()


def test_without_the_referrals_app_a_work_item_asks_to_send_it(visit, vma, provider, monkeypatch):
    monkeypatch.setitem(sys.modules, "referrals.services", None)  # the import fails
    order = signed(visit, vma, provider, "referral")
    item = WorkItem.objects.get(kind=effects.REFERRAL_TO_SEND)
    assert item.subject == order and "Cardiology" in item.title and "Chest pain" in item.detail
    assert order.referral_ref == "" and order.effects_done_at is not None


def test_a_follow_up_asks_the_front_office_to_book_it_within_two_business_days(visit, vma, provider):
    order = signed(visit, vma, provider, "follow_up")
    item = WorkItem.objects.get(kind=effects.FOLLOW_UP_TO_BOOK)
    assert item.queue == Role.FRONT_OFFICE and item.title == "Book a follow-up in 4 weeks"
    assert item.due_at == add_business_days(order.signed_at, 2)
    # the front office reads no orders: the item leads to the patient's chart
    assert item.subject_url() == reverse("patient_detail", args=[visit.patient.public_id])


def test_the_vmas_items_lead_to_the_order(visit, vma, provider):
    order = signed(visit, vma, provider, "prescription", pharmacy="REJECT Pharmacy")
    assert WorkItem.objects.get(kind=effects.PHARMACY_FAILED).subject_url() == reverse(
        "orders_detail", args=[order.public_id]
    )


def test_a_payer_rule_opens_a_prior_authorization_when_signed(visit, vma, provider):
    coverage = CoverageFactory(patient=visit.patient)
    PriorAuthRule.objects.create(payer=coverage.payer, code="70551", category="")
    order = pend(visit, vma, "imaging", title="MRI brain", procedure_code="70551")
    assert not PriorAuthorization.objects.exists()  # not for a pended order
    sign(provider, order)
    deliver_all()
    auth = PriorAuthorization.objects.get(patient=visit.patient)
    assert fresh(order).prior_authorization == auth and auth.service_code == "70551"
    assert WorkItem.objects.filter(kind="priorauth.follow_up", subject_id=auth.pk).exists()
