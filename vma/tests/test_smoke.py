"""The practice fixture wires roles and care teams as the access layer expects."""

from vma.access import accessible_patients


def test_provider_sees_own_panel_only(practice, patient, other_patient):
    provider = practice.users["provider"]
    assert list(accessible_patients(provider)) == [patient]
    assert list(accessible_patients(practice.outsider_provider)) == [other_patient]
    assert list(accessible_patients(practice.users["manager"])) == []
