"""The waitlist page and API: add with preferences, refused input kept, remove, other teams 404."""

from __future__ import annotations

from django.urls import reverse

from scheduling.models import WaitlistEntry
from vma.models import AuditEvent
from vma.roles import Role

W = WaitlistEntry.Status


def test_front_office_adds_a_patient_with_preferences_and_sees_them_listed(client, patient, follow_up, front_office):
    client.force_login(front_office)
    r = client.post(
        reverse("scheduling_waitlist_add"),
        {
            "patient": str(patient.public_id),
            "type": str(follow_up.public_id),
            "weekdays": ["1", "3"],
            "part_of_day": "morning",
            "earliest_date": "2026-12-01",
            "note": "Can come at short notice",
        },
    )
    assert r.status_code == 302
    entry = WaitlistEntry.objects.get(patient=patient)
    assert (entry.weekdays, entry.part_of_day, entry.appointment_type, entry.status) == (
        [1, 3],
        "morning",
        follow_up,
        W.WAITING,
    )
    assert entry.created_by == front_office
    page = client.get(reverse("scheduling_waitlist")).content.decode()
    assert f'data-entry="{entry.public_id}"' in page and "Tue Thu" in page and "Can come at short notice" in page
    assert AuditEvent.objects.filter(action="page.scheduling_waitlist", patient_ids__contains=[patient.pk]).exists()


def test_a_refused_form_keeps_what_was_typed(client, patient, follow_up, front_office):
    client.force_login(front_office)
    r = client.post(
        reverse("scheduling_waitlist_add"),
        {
            "patient": str(patient.public_id),
            "type": str(follow_up.public_id),
            "weekdays": ["4"],
            "part_of_day": "afternoon",
            "earliest_date": "2026-12-20",
            "latest_date": "2026-12-01",
            "note": "Fridays only",
        },
    )
    body = r.content.decode()
    assert r.status_code == 400 and "The latest date is before the earliest date." in body
    assert 'value="Fridays only"' in body and 'value="2026-12-20"' in body
    assert f'value="{patient.public_id}" required checked' in body
    assert 'value="4" checked' in body and '<option value="afternoon" selected' in body
    assert not WaitlistEntry.objects.exists()


def test_remove_keeps_the_entry_as_removed_and_a_second_click_explains(client, patient, front_office):
    entry = WaitlistEntry.objects.create(patient=patient)
    client.force_login(front_office)
    url = reverse("scheduling_waitlist_remove", args=[entry.public_id])
    assert client.post(url).status_code == 302
    entry.refresh_from_db()
    assert entry.status == W.REMOVED
    # the entry is no longer listed, so a second click finds nothing: 404, nothing changes
    assert client.post(url).status_code == 404
    assert f'data-entry="{entry.public_id}"' not in client.get(reverse("scheduling_waitlist")).content.decode()


def test_other_teams_entries_are_neither_listed_nor_removable(client, other_patient, front_office):
    theirs = WaitlistEntry.objects.create(patient=other_patient)
    client.force_login(front_office)
    assert f'data-entry="{theirs.public_id}"' not in client.get(reverse("scheduling_waitlist")).content.decode()
    assert client.post(reverse("scheduling_waitlist_remove", args=[theirs.public_id])).status_code == 404
    r = client.post(reverse("scheduling_waitlist_add"), {"patient": str(other_patient.public_id), "part_of_day": "any"})
    assert r.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == W.WAITING and WaitlistEntry.objects.count() == 1


def test_nurse_reads_the_waitlist_but_cannot_change_it(client, practice, patient):
    entry = WaitlistEntry.objects.create(patient=patient)
    client.force_login(practice.users[Role.NURSE])
    page = client.get(reverse("scheduling_waitlist")).content.decode()
    assert f'data-entry="{entry.public_id}"' in page and 'id="waitlist-add"' not in page
    assert client.post(reverse("scheduling_waitlist_remove", args=[entry.public_id])).status_code == 403


def test_api_add_list_and_remove(client, patient, other_patient, follow_up, front_office):
    client.force_login(front_office)
    url = reverse("api-appointment-waitlist")
    r = client.post(
        url,
        {"patient": str(patient.public_id), "appointment_type": str(follow_up.public_id), "weekdays": [0, 2]},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    made = r.json()
    assert made["weekdays"] == [0, 2] and made["appointment_type"] == str(follow_up.public_id)
    WaitlistEntry.objects.create(patient=other_patient)
    listed = client.get(url).json()
    assert [e["id"] for e in listed] == [made["id"]]
    bad = client.post(url, {"patient": str(patient.public_id), "weekdays": [9]}, content_type="application/json")
    assert bad.status_code == 400 and "weekdays" in bad.json()
    gone = client.delete(reverse("api-appointment-waitlist-entry", args=[made["id"]]))
    assert gone.status_code == 204
    assert WaitlistEntry.objects.get(public_id=made["id"]).status == W.REMOVED
    assert client.get(url).json() == []
