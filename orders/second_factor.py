"""The second factor for controlled substances: the provider's password again and a TOTP code.

DEA rules for electronic prescribing of controlled substances (EPCS) want two factors at signing.
A code is accepted once: its TOTP time step must be later than the last accepted one (no replay),
one step of clock drift either way is tolerated, and five wrong attempts in a row lock the second
factor for 15 minutes. Every failure is written to the audit trail.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pyotp
from django.db import transaction
from django.utils import timezone

from vma import audit
from vma.models import AuditEvent

from .models import SecondFactorDevice

if TYPE_CHECKING:
    from vma.models import User

ISSUER = "VMA Portal"
MAX_FAILURES = 5
LOCK_MINUTES = 15
DRIFT_STEPS = 1

MISSING = "Controlled substance: re-enter your password and the one-time code from your authenticator app to sign it."
NO_DEVICE = (
    "Controlled substance: you have no authenticator enrolled; ask the administrator to enroll one (enroll_otp)."
)
WRONG = "The password or the one-time code is wrong; controlled-substance items were not signed."
REPLAYED = "That one-time code was already used; wait for the next code and try again."


def provisioning_uri(device: SecondFactorDevice) -> str:
    return pyotp.TOTP(device.secret).provisioning_uri(name=device.user.get_username(), issuer_name=ISSUER)


@transaction.atomic
def enroll(
    user: User, *, secret: str | None = None, replace: bool = False, confirmed: bool = False
) -> SecondFactorDevice:
    """Give the user an authenticator (a new random secret unless one is given).

    An existing device is kept unless `replace`: re-enrolling silently would lock a provider out
    of their phone's codes.
    """
    secret = (secret or pyotp.random_base32()).strip().upper()
    try:
        pyotp.TOTP(secret).now()
    except (ValueError, TypeError) as exc:  # binascii.Error is a ValueError
        raise ValueError(f"Not a base32 secret: {exc}") from None
    device = SecondFactorDevice.objects.select_for_update().filter(user=user).first()
    if device is not None and not replace:
        raise ValueError(f"{user.get_username()} already has an authenticator; pass --replace to enroll a new one.")
    now = timezone.now()
    if device is None:
        device = SecondFactorDevice(user=user)
    device.secret = secret
    device.confirmed = confirmed
    device.confirmed_at = now if confirmed else None
    device.last_used_counter = 0
    device.failed_attempts = 0
    device.locked_until = None
    device.created_at = now
    device.save()
    return device


def _matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The TOTP time step (counter) `code` belongs to, within the allowed drift, or None."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(at)
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if pyotp.utils.strings_equal(code, totp.generate_otp(step)):
            return step
    return None


def _failed(user: User, device: SecondFactorDevice | None, reason: str, now: datetime) -> None:
    if device is not None:
        device.failed_attempts += 1
        if device.failed_attempts >= MAX_FAILURES:
            device.locked_until = now + timedelta(minutes=LOCK_MINUTES)
            device.failed_attempts = 0
        device.save(update_fields=["failed_attempts", "locked_until", "updated_at"])
    audit.append(
        kind=AuditEvent.Kind.AUTH,
        action="orders.second_factor.failed",
        actor=user,
        target=f"user:{user.public_id}",
        detail={
            "reason": reason,
            "locked_until": device.locked_until.isoformat() if device and device.locked_until else None,
        },
    )


def verify(user: User, *, password: str | None, otp: str | None, now: datetime | None = None) -> tuple[bool, str]:
    """(True, "") when both factors hold; else (False, what to tell the provider). Commits its own bookkeeping."""
    if not (password and otp):
        return False, MISSING
    now = now or timezone.now()
    with transaction.atomic():
        device = SecondFactorDevice.objects.select_for_update().filter(user=user).first()
        if device is None:
            _failed(user, None, "no authenticator enrolled", now)
            return False, NO_DEVICE
        if device.locked_until is not None and device.locked_until > now:
            _failed(user, None, "locked", now)
            until = timezone.localtime(device.locked_until)
            return False, f"Too many wrong attempts: the second factor is locked until {until:%H:%M}."
        if not user.check_password(password):
            _failed(user, device, "wrong password", now)
            return False, WRONG
        step = _matching_step(device.secret, otp, now)
        if step is None:
            _failed(user, device, "wrong code", now)
            return False, WRONG
        if step <= device.last_used_counter:
            _failed(user, device, "code replayed", now)
            return False, REPLAYED
        device.last_used_counter = step
        device.failed_attempts = 0
        fields = ["last_used_counter", "failed_attempts", "updated_at"]
        if not device.confirmed:
            device.confirmed, device.confirmed_at = True, now
            fields += ["confirmed", "confirmed_at"]
        device.save(update_fields=fields)
        audit.append(
            kind=AuditEvent.Kind.AUTH, action="orders.second_factor.ok", actor=user, target=f"user:{user.public_id}"
        )
    return True, ""
