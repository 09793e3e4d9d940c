"""The packet checklist: an incomplete packet refuses sending with the list; the plan's rules (HMO)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from referrals import services, workflow
from referrals.models import Referral
from referrals.packet import build_packet
from tests.factories import CoverageFactory, PayerFactory

from .factories import document, hmo_payer, ready, signed_encounter, specialist

S = Referral.Status


def test_an_incomplete_packet_refuses_sending_with_what_is_missing(practice, patient, vma):
    # given a draft with nothing but its specialty
    referral = services.create_referral(patient, actor=vma, specialty="Cardiology")
    contacts_before = referral.contacts.count()
    # when the VMA sends it
    with pytest.raises(workflow.PacketIncomplete) as exc:
        workflow.send_referral(referral, actor=vma)
    # then it is refused with every missing line, in checklist order, and nothing changed
    assert [code for code, _, _ in exc.value.missing] == ["specialist", "reason", "notes", "results", "insurance"]
    assert exc.value.status_code == 409
    for label in ("Specialist", "Reason for referral", "Relevant notes", "Results", "Insurance"):
        assert label in exc.value.message
    referral.refresh_from_db()
    assert referral.status == S.DRAFT and referral.sent_at is None and referral.contacts.count() == contacts_before


def test_filling_each_line_makes_it_sendable(practice, patient, vma):
    referral = services.create_referral(patient, actor=vma, specialty="Cardiology")
    cov = CoverageFactory(patient=patient)
    steps = [
        ("specialist", {"specialist": specialist(payers=(cov.payer,))}),
        ("reason", {"reason": "Palpitations"}),
        ("notes", {"clinical_notes": "Holter normal in 2024."}),
        ("results", {"documents": [document(patient, "ECG", "lab_result")]}),
    ]
    for code, change in steps:
        assert code in [line.code for line in build_packet(referral).missing]
        referral = services.update_packet(referral, actor=vma, **change)
        assert code not in [line.code for line in build_packet(referral).missing]
    packet = build_packet(referral)
    assert packet.complete and packet.coverage == cov  # the primary plan in force counts as insurance
    assert workflow.send_referral(referral, actor=vma).status == S.SENT


def test_results_may_be_not_needed_only_with_a_note(practice, patient, vma):
    referral = services.create_referral(patient, actor=vma, specialty="Cardiology")
    with pytest.raises(ValidationError):
        services.update_packet(referral, actor=vma, results_not_needed=True)
    referral = services.update_packet(referral, actor=vma, results_not_needed=True, results_note="Nothing relevant")
    line = next(x for x in build_packet(referral).lines if x.code == "results")
    assert line.ok and "Nothing relevant" in line.detail


def test_a_signed_visit_note_counts_as_the_notes(practice, patient, vma):
    referral = ready(patient, clinical_notes="", encounter=signed_encounter(patient))
    line = next(x for x in build_packet(referral).lines if x.code == "notes")
    assert line.ok and "signed visit note" in line.detail


def test_authorization_is_only_required_by_an_hmo_plan(practice, patient, vma):
    ppo = CoverageFactory(patient=patient, payer=PayerFactory(name="Blue PPO"))
    referral = ready(patient, to=specialist(payers=(ppo.payer,)), coverage=ppo)
    line = next(x for x in build_packet(referral).lines if x.code == "authorization")
    assert line.ok and not line.required and "Not required by Blue PPO" in line.detail
    # the same referral under an HMO plan needs the plan's authorization
    hmo = hmo_payer()
    ppo.active = False
    ppo.save()
    hmo_cov = CoverageFactory(patient=patient, payer=hmo)
    referral.specialist.accepted_payers.add(hmo)
    referral = services.update_packet(referral, actor=vma, coverage=hmo_cov)
    packet = build_packet(referral)
    assert packet.requires_authorization
    [missing] = packet.missing
    assert missing.code == "authorization"
    assert "authorization number, the visits allowed, the expiry date" in missing.detail
    with pytest.raises(workflow.PacketIncomplete):
        workflow.send_referral(referral, actor=vma)
    services.update_packet(
        referral,
        actor=vma,
        authorization_number="EVG-77",
        visits_allowed=3,
        authorization_expires_on=timezone.localdate() + timedelta(days=90),
    )
    assert workflow.send_referral(referral, actor=vma).status == S.SENT


def test_an_expired_or_used_up_authorization_is_missing(practice, patient, vma):
    hmo = hmo_payer()
    cov = CoverageFactory(patient=patient, payer=hmo)
    referral = ready(
        patient,
        to=specialist(payers=(hmo,)),
        coverage=cov,
        authorization_number="EVG-1",
        visits_allowed=1,
        authorization_expires_on=timezone.localdate() - timedelta(days=1),
    )
    assert "expired" in build_packet(referral).missing[0].detail
    referral.authorization_expires_on = timezone.localdate() + timedelta(days=30)
    referral.visits_used = 1
    assert "visits are used" in build_packet(referral).missing[0].detail


def test_self_pay_needs_no_plan_check(practice, patient):
    referral = ready(patient, to=specialist())  # self-pay, a specialist accepting no plan
    packet = build_packet(referral)
    assert packet.complete and not packet.warnings and not packet.requires_authorization


def test_an_hmo_refuses_an_out_of_network_specialist(practice, patient, vma):
    hmo = hmo_payer()
    cov = CoverageFactory(patient=patient, payer=hmo)
    referral = ready(
        patient,
        to=specialist(payers=(PayerFactory(),)),
        coverage=cov,
        authorization_number="EVG-2",
        visits_allowed=1,
        authorization_expires_on=timezone.localdate() + timedelta(days=30),
    )
    [missing] = build_packet(referral).missing
    assert missing.code == "specialist" and "not in network for Evergreen HMO" in missing.detail


def test_other_plans_only_warn_about_an_out_of_network_specialist(practice, patient, vma):
    cov = CoverageFactory(patient=patient, payer=PayerFactory(name="Summit Mutual"))
    referral = ready(patient, to=specialist(), coverage=cov)
    packet = build_packet(referral)
    assert packet.complete and "does not list Summit Mutual" in packet.warnings[0]
    sent = workflow.send_referral(referral, actor=vma)
    assert "Warning noted" in sent.contacts.order_by("-id").first().note


def test_an_ended_coverage_is_not_insurance(practice, patient, vma):
    cov = CoverageFactory(patient=patient, plan_end=timezone.localdate() - timedelta(days=1))
    referral = ready(patient, coverage=cov)
    [missing] = build_packet(referral).missing
    assert missing.code == "insurance" and "no longer in force" in missing.detail


def test_the_packet_is_frozen_once_sent(practice, patient, vma):
    referral = workflow.send_referral(ready(patient), actor=vma)
    from vma.exceptions import ActionRefused

    with pytest.raises(ActionRefused):
        services.update_packet(referral, actor=vma, reason="Something else")
    # the plan's authorization may still be recorded while the referral is open
    services.update_packet(referral, actor=vma, authorization_number="LATE-1")
    assert Referral.objects.get(pk=referral.pk).authorization_number == "LATE-1"


def test_packet_input_is_checked(practice, patient, other_patient, vma):
    referral = ready(patient)
    with pytest.raises(ValidationError):
        services.update_packet(referral, actor=vma, diagnosis_code="XYZ")
    with pytest.raises(ValidationError):
        services.update_packet(referral, actor=vma, documents=[document(other_patient)])
    with pytest.raises(ValidationError):
        services.update_packet(referral, actor=vma, coverage=CoverageFactory(patient=other_patient))
    with pytest.raises(ValidationError):
        services.update_packet(referral, actor=vma, visits_allowed=2, visits_used=3)
