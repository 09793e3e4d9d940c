"""A signed referral order starts a referral: exactly once per order, whatever calls it twice."""

from __future__ import annotations

import pytest

from orders.models import Order
from referrals import services, workflow
from referrals.models import Referral
from referrals.packet import build_packet
from vma.exceptions import ActionRefused
from vma.models import WorkItem

from .factories import signed_referral_order


def test_create_from_order_is_idempotent(practice, patient, vma):
    order = signed_referral_order(patient, pended_by=vma)
    first = services.create_from_order(order)
    second = services.create_from_order(Order.objects.get(pk=order.pk))
    assert first.pk == second.pk and Referral.objects.filter(order=order).count() == 1
    assert WorkItem.objects.filter(kind=workflow.PREPARE, subject_id=first.pk).count() == 1
    assert first.contacts.count() == 1


def test_the_referral_carries_the_order(practice, patient, vma):
    order = signed_referral_order(patient, pended_by=vma)
    referral = services.create_from_order(order)
    assert referral.status == Referral.Status.DRAFT
    assert (referral.patient, referral.referring_provider, referral.encounter) == (
        patient,
        order.signed_by,
        order.encounter,
    )
    assert (referral.specialty, referral.reason, referral.urgency) == ("Cardiology", "Exertional chest pain", "urgent")
    assert (referral.diagnosis_code, referral.diagnosis_description) == ("R07.9", "Chest pain, unspecified")
    # the signed visit note counts as the packet's notes; the urgent referral's item is high priority
    notes = next(line for line in build_packet(referral).lines if line.code == "notes")
    assert notes.ok
    item = WorkItem.objects.get(kind=workflow.PREPARE, subject_id=referral.pk)
    assert item.priority == WorkItem.Priority.HIGH and "Cardiology" in item.title


def test_only_a_signed_referral_order(practice, patient, vma):
    lab = signed_referral_order(patient, pended_by=vma, urgency="routine")
    Order.objects.filter(pk=lab.pk).update(kind=Order.Kind.LAB, specialty="", reason="")
    with pytest.raises(ActionRefused):
        services.create_from_order(Order.objects.get(pk=lab.pk))
    pended = signed_referral_order(patient, pended_by=vma)
    Order.objects.filter(pk=pended.pk).update(
        status=Order.Status.PENDED, signed_at=None, signed_hash="", signed_by=None
    )
    with pytest.raises(ActionRefused):
        services.create_from_order(Order.objects.get(pk=pended.pk))
    assert not Referral.objects.exists()
