"""Audit: reads and writes of patient data are recorded, append-only and hash-chained."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from patients.models import Patient
from tests.factories import PatientFactory
from vma import audit
from vma.models import AuditEvent, AuditEventPatient
from vma.roles import Role


def events_for(patient, kind=None):
    qs = AuditEvent.objects.filter(patient_links__patient_id=patient.pk)
    return qs.filter(kind=kind) if kind else qs


def test_page_read_records_which_patients(client, practice, patient, other_patient):
    client.force_login(practice.users[Role.FRONT_OFFICE])
    client.get(reverse("patient_detail", args=[patient.public_id]))
    event = events_for(patient, "read").get()
    assert event.action == "page.patient_detail"
    assert event.actor == practice.users[Role.FRONT_OFFICE]
    assert event.patient_ids == [patient.pk]
    assert not events_for(other_patient, "read").exists()


def test_api_list_records_every_patient_on_the_page(client, practice):
    patients = [PatientFactory(care_team=practice.team) for _ in range(3)]
    client.force_login(practice.users[Role.PROVIDER])
    response = client.get(reverse("api-patient-list"))
    assert response.status_code == 200
    event = AuditEvent.objects.get(kind="read", action="api.patients.list")
    assert sorted(event.patient_ids) == sorted(p.pk for p in patients)
    assert AuditEventPatient.objects.filter(event=event).count() == 3


def test_writes_are_chained_from_auditlog(practice):
    patient = PatientFactory(care_team=practice.team)
    patient.phone = "555-0142"
    patient.save()
    writes = list(events_for(patient, "write").order_by("seq"))
    assert [w.action for w in writes] == ["patients.patient.create", "patients.patient.update"]
    assert "phone" in writes[1].detail["fields"]
    assert "555-0142" not in str(writes[1].detail)  # values stay in auditlog's table, not copied


def test_chain_verifies_and_command_reports_intact(practice, capsys):
    PatientFactory(care_team=practice.team)
    report = audit.verify_chain()
    assert report.ok and report.checked >= 1
    call_command("verify_audit_chain")
    assert "intact" in capsys.readouterr().out


def _tamper(sql, params):
    # Simulates an attacker with database access: the append-only trigger must be bypassed first.
    with connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")  # skips triggers (superuser only)
        cur.execute(sql, params)
        cur.execute("SET LOCAL session_replication_role = origin")


def test_altered_row_is_reported_as_first_broken_link(practice):
    for _ in range(4):
        PatientFactory(care_team=practice.team)
    victim = AuditEvent.objects.order_by("seq")[2]
    _tamper("UPDATE vma_auditevent SET actor_label = %s WHERE id = %s", ["someone-else", victim.pk])
    report = audit.verify_chain()
    assert not report.ok
    assert report.broken_at == victim.seq
    assert "altered" in report.reason
    with pytest.raises(CommandError, match=f"#{victim.seq}"):
        call_command("verify_audit_chain")


def test_deleted_row_is_reported(practice):
    for _ in range(3):
        PatientFactory(care_team=practice.team)
    victim = AuditEvent.objects.order_by("seq")[1]
    _tamper("DELETE FROM vma_auditeventpatient WHERE event_id = %s", [victim.pk])
    _tamper("DELETE FROM vma_auditevent WHERE id = %s", [victim.pk])
    report = audit.verify_chain()
    assert report.broken_at == victim.seq and "missing" in report.reason


def test_database_refuses_update_and_delete(practice):
    PatientFactory(care_team=practice.team)
    event = AuditEvent.objects.first()
    for sql in ("UPDATE vma_auditevent SET action = 'x' WHERE id = %s", "DELETE FROM vma_auditevent WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [event.pk])
    with pytest.raises(Exception, match="append-only"):
        event.save()


def test_audit_trail_page_filters_by_patient_and_user(client, practice, patient, other_patient):
    vma = practice.users[Role.FRONT_OFFICE]
    client.force_login(vma)
    client.get(reverse("patient_detail", args=[patient.public_id]))
    client.force_login(practice.users[Role.MANAGER])
    response = client.get(reverse("audit_trail"), {"mrn": patient.mrn, "user": vma.username})
    page = list(response.context["page"])
    assert page and all(patient.pk in e.patient_ids and e.actor_label == vma.username for e in page)
    response = client.get(reverse("audit_trail"), {"mrn": "NO-SUCH", "since": "yesterday"})
    assert response.status_code == 200
    assert "No patient has that MRN." in response.content.decode()
    assert "is not a date" in response.content.decode()


def test_seed_demo_is_audited(db):
    call_command("seed_demo", patients=30)
    names = list(Patient.objects.order_by("mrn").values_list("last_name", flat=True))
    assert len(names) == 30
    assert AuditEvent.objects.filter(action="seed_demo").count() == 1
    assert audit.verify_chain().ok
