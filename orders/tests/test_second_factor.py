"""Controlled substances need the password again and a one-time code; codes are not replayable."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pyotp
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from orders import second_factor
from orders.models import Order, SecondFactorDevice
from tests.factories import PASSWORD
from vma.models import AuditEvent

from .factories import CONTROLLED, SECRET, code_at, enroll, fresh, pend, sign

S = Order.Status
pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(visit, vma):
    """A controlled prescription and a lab in one batch."""
    return pend(visit, vma, "prescription", **CONTROLLED), pend(visit, vma, "lab")


def _failures(user) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="orders.second_factor.failed", actor=user).order_by("seq"))


def test_without_the_second_factor_the_controlled_item_is_refused_and_the_rest_signed(batch, provider):
    controlled, lab = batch
    enroll(provider)
    result = sign(provider, controlled, lab)
    assert [o.ok for o in result.outcomes] == [False, True]
    assert "one-time code" in result.outcomes[0].message
    assert fresh(controlled).status == S.PENDED and fresh(lab).status == S.SIGNED


def test_with_password_and_code_the_controlled_item_is_signed(batch, provider):
    controlled, _lab = batch
    enroll(provider)
    result = sign(provider, controlled, password=PASSWORD, otp=code_at())
    assert result.outcomes[0].ok, result.outcomes[0].message
    order = fresh(controlled)
    assert order.status == S.SIGNED and order.second_factor_at is not None
    device = SecondFactorDevice.objects.get(user=provider)
    assert device.confirmed and device.last_used_counter == pyotp.TOTP(SECRET).timecode(timezone.now())
    assert AuditEvent.objects.filter(action="orders.second_factor.ok", actor=provider).exists()


def test_a_replayed_code_is_refused(visit, vma, provider):
    enroll(provider)
    first = pend(visit, vma, "prescription", **CONTROLLED)
    second = pend(visit, vma, "prescription", **{**CONTROLLED, "drug": "hydrocodone"})
    now = timezone.now()
    code = code_at(now)
    assert sign(provider, first, password=PASSWORD, otp=code, now=now).signed
    again = sign(provider, second, password=PASSWORD, otp=code, now=now + timedelta(seconds=5))
    assert not again.signed and again.outcomes[0].message == second_factor.REPLAYED
    assert fresh(second).status == S.PENDED
    assert _failures(provider)[-1].detail["reason"] == "code replayed"
    # the next time step's code works
    later = now + timedelta(seconds=30)
    assert sign(provider, second, password=PASSWORD, otp=code_at(later), now=later).signed


def test_a_wrong_password_or_code_is_refused_and_audited(batch, provider):
    controlled, _ = batch
    enroll(provider)
    assert not sign(provider, controlled, password="not-my-password", otp=code_at()).signed
    assert not sign(provider, controlled, password=PASSWORD, otp="000000").signed
    assert [e.detail["reason"] for e in _failures(provider)] == ["wrong password", "wrong code"]
    assert SecondFactorDevice.objects.get(user=provider).failed_attempts == 2
    assert fresh(controlled).status == S.PENDED


def test_a_code_from_two_steps_ago_is_refused(batch, provider):
    controlled, _ = batch
    enroll(provider)
    stale = code_at(timezone.now() - timedelta(seconds=95))
    assert not sign(provider, controlled, password=PASSWORD, otp=stale).signed


def test_five_failures_lock_the_second_factor(batch, provider):
    controlled, _ = batch
    enroll(provider)
    for _ in range(second_factor.MAX_FAILURES):
        sign(provider, controlled, password=PASSWORD, otp="000000")
    result = sign(provider, controlled, password=PASSWORD, otp=code_at())
    assert not result.signed and "locked until" in result.outcomes[0].message
    device = SecondFactorDevice.objects.get(user=provider)
    assert device.locked_until is not None and device.locked_until > timezone.now()


def test_without_an_enrolled_authenticator_the_provider_is_told(batch, provider):
    controlled, _ = batch
    result = sign(provider, controlled, password=PASSWORD, otp="123456")
    assert result.outcomes[0].message == second_factor.NO_DEVICE
    assert _failures(provider)[0].detail["reason"] == "no authenticator enrolled"


def test_missing_credentials_are_not_counted_as_an_attempt(batch, provider):
    controlled, _ = batch
    enroll(provider)
    assert sign(provider, controlled).outcomes[0].message == second_factor.MISSING
    assert not _failures(provider)


def test_enroll_otp_prints_the_provisioning_uri(provider, vma):
    out = StringIO()
    call_command("enroll_otp", provider.username, stdout=out, stderr=StringIO())
    device = SecondFactorDevice.objects.get(user=provider)
    uri = out.getvalue().strip()
    assert uri.startswith("otpauth://totp/") and f"secret={device.secret}" in uri and not device.confirmed
    with pytest.raises(CommandError, match="already has"):
        call_command("enroll_otp", provider.username, stdout=StringIO(), stderr=StringIO())
    call_command("enroll_otp", provider.username, "--replace", "--secret", SECRET, stdout=StringIO(), stderr=StringIO())
    assert SecondFactorDevice.objects.get(user=provider).secret == SECRET
    with pytest.raises(CommandError, match="only providers"):
        call_command("enroll_otp", vma.username, stdout=StringIO(), stderr=StringIO())


def test_the_secret_never_reaches_the_audit_log(provider):
    from auditlog.models import LogEntry

    enroll(provider)
    entries = LogEntry.objects.filter(content_type__model="secondfactordevice")
    assert entries.exists()
    assert all("secret" not in (e.changes or {}) for e in entries)
    assert all(SECRET not in str(e.changes) for e in entries)
