"""Submission: medications and allergies land as patient-reported rows, chart changes are only proposed,
item 9 escalates whatever the total, and the VMA applies or rejects each change."""

from __future__ import annotations

import pytest
from django.utils import timezone

from intake import services, workflow
from intake.models import (
    IntakePacket,
    PatientReportedAllergy,
    PatientReportedMedication,
    ProposedChange,
)
from tests.factories import CoverageFactory
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import OutboxMessage, WorkItem
from vma.roles import Role

from .conftest import packet_for

S = IntakePacket.Status


def fill(packet, answers_by_code):
    """The patient's answers, saved as the pages would (set-up only)."""
    for response in packet.responses.select_related("questionnaire"):
        response.answers = answers_by_code.get(response.questionnaire.code, {})
        response.save(update_fields=["answers"])
    workflow.mark_opened(packet)


PHQ9 = {f"q{i}": "0" for i in range(1, 10)}


def test_submission_lands_meds_and_allergies_and_opens_confirm_updates(starter, patient):
    # given a patient whose chart has an old phone and member id
    coverage = CoverageFactory(patient=patient, member_id="OLD12345")
    packet = packet_for(patient, codes=["registration", "medications_allergies"])
    fill(
        packet,
        {
            "registration": {
                "first_name": patient.first_name,
                "last_name": patient.last_name,
                "phone": "555-0142",
                "member_id": "NEW98765",
            },
            "medications_allergies": {
                "medications": "Lisinopril, 10 mg daily\nMetformin, 500 mg twice a day\n\n",
                "allergies": "Penicillin, hives",
            },
        },
    )
    # when the patient submits
    packet = services.submit_packet(packet)
    # then meds and allergies are patient-reported rows
    meds = sorted(PatientReportedMedication.objects.filter(patient=patient).values_list("name", "dose", "source"))
    assert meds == [("Lisinopril", "10 mg daily", "intake"), ("Metformin", "500 mg twice a day", "intake")]
    assert list(PatientReportedAllergy.objects.values_list("name", "reaction")) == [("Penicillin", "hives")]
    # and demographics and coverage are untouched, only proposed
    patient.refresh_from_db()
    coverage.refresh_from_db()
    assert patient.phone == "555-0100" and coverage.member_id == "OLD12345"
    changes = {c.target: (c.current_value, c.proposed_value) for c in ProposedChange.objects.all()}
    assert changes == {"patient.phone": ("555-0100", "555-0142"), "coverage.member_id": ("OLD12345", "NEW98765")}
    item = WorkItem.objects.get(kind=workflow.CONFIRM_UPDATES)
    assert item.queue == Role.FRONT_OFFICE and item.patient == patient and item.title == "Confirm intake updates"
    assert "Phone: 555-0100 → 555-0142" in item.detail and "NEW98765" in item.detail
    assert packet.status == S.SUBMITTED


def test_none_means_no_medication_rows(starter, patient):
    packet = packet_for(patient, codes=["medications_allergies"])
    fill(packet, {"medications_allergies": {"medications": "none", "allergies": "NKDA"}})
    services.submit_packet(packet)
    assert not PatientReportedMedication.objects.exists() and not PatientReportedAllergy.objects.exists()
    assert not WorkItem.objects.filter(kind=workflow.CONFIRM_UPDATES).exists()


def test_item9_escalates_immediately_even_with_a_total_of_one(starter, patient):
    packet = packet_for(patient, codes=["phq9"])
    fill(packet, {"phq9": PHQ9 | {"q9": "1"}})
    before = timezone.now()
    packet = services.submit_packet(packet)
    assert (packet.phq9_score, packet.phq9_band, packet.item9_positive) == (1, "minimal", True)
    item = WorkItem.objects.get(kind=workflow.SAFETY_ESCALATION)
    response = packet.responses.get()
    # a nurse, urgent, due now, about the response itself
    assert (item.queue, item.priority, item.subject_id) == (Role.NURSE, WorkItem.Priority.URGENT, response.pk)
    assert before <= item.due_at <= timezone.now()
    # the hand-off is documented: what was answered, and when
    assert '"Several days" (1)' in item.detail and "better off dead" in item.detail and "Submitted" in item.detail
    assert OutboxMessage.objects.filter(handler="vma.notify_escalation", payload__item_id=item.pk).exists()
    # and the item links to the packet page, where the nurse reads the answers
    assert item.subject_url() == f"/intake/packets/{packet.public_id}/"


def test_no_escalation_when_item9_is_not_at_all_even_with_a_severe_total(starter, patient):
    packet = packet_for(patient, codes=["phq9"])
    fill(packet, {"phq9": {f"q{i}": "3" for i in range(1, 9)} | {"q9": "0"}})
    packet = services.submit_packet(packet)
    assert (packet.phq9_score, packet.phq9_band, packet.item9_positive) == (24, "severe", False)
    assert not WorkItem.objects.filter(kind=workflow.SAFETY_ESCALATION).exists()


def test_a_second_submit_changes_nothing(starter, patient):
    packet = packet_for(patient, codes=["medications_allergies"])
    fill(packet, {"medications_allergies": {"medications": "Aspirin, 81 mg", "allergies": "none"}})
    services.submit_packet(packet)
    services.submit_packet(packet)
    assert PatientReportedMedication.objects.count() == 1


def _submitted_with_changes(patient):
    CoverageFactory(patient=patient, member_id="OLD12345")
    packet = packet_for(patient, codes=["registration"])
    fill(
        packet,
        {
            "registration": {
                "first_name": "X",
                "last_name": patient.last_name,
                "phone": "555-0142",
                "member_id": "NEW98765",
            }
        },
    )
    return services.submit_packet(packet)


def test_the_vma_applies_and_rejects_changes_then_reviews(practice, starter, patient):
    vma = practice.users[Role.FRONT_OFFICE]
    packet = _submitted_with_changes(patient)
    changes = {c.target: c for c in packet.proposed_changes.all()}
    # reviewing with changes pending is refused
    with pytest.raises(ActionRefused):
        workflow.review_packet(packet, actor=vma)
    services.decide_change(changes["patient.phone"], actor=vma, apply=True)
    services.decide_change(changes["patient.first_name"], actor=vma, apply=False, note="Nickname")
    services.decide_change(changes["coverage.member_id"], actor=vma, apply=True)
    patient.refresh_from_db()
    assert patient.phone == "555-0142" and patient.first_name != "X"
    assert patient.coverages.get().member_id == "NEW98765"
    with pytest.raises(ActionRefused):
        services.decide_change(changes["patient.phone"], actor=vma, apply=False)
    packet = workflow.review_packet(packet, actor=vma)
    assert packet.status == S.REVIEWED and packet.reviewed_by == vma
    assert WorkItem.objects.get(kind=workflow.CONFIRM_UPDATES).status == WorkItem.Status.DONE


@pytest.mark.parametrize("role", [Role.NURSE, Role.BILLING])
def test_only_roles_that_confirm_updates_may_apply_them(practice, starter, patient, role):
    packet = _submitted_with_changes(patient)
    with pytest.raises(NotPermitted):
        services.decide_change(packet.proposed_changes.first(), actor=practice.users[role], apply=True)


def test_another_teams_vma_may_not_apply(practice, starter, other_patient):
    packet = _submitted_with_changes(other_patient)
    with pytest.raises(NotPermitted):
        services.decide_change(packet.proposed_changes.first(), actor=practice.users[Role.FRONT_OFFICE], apply=True)
