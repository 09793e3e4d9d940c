"""The pharmacy adapter: how a signed prescription (or an authorized refill) reaches the pharmacy.

A real practice plugs an e-prescribing network here; the demo and the tests use the console backend,
which logs the message and answers "accepted" (or "rejected" for a pharmacy named "REJECT…", so the
failure path can be exercised end to end). `settings.PHARMACY_BACKEND` names the class.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger("vma.pharmacy")


@dataclass(frozen=True)
class PharmacyMessage:
    kind: str  # "new_prescription" | "refill_authorized" | "refill_denied"
    reference: str  # our public id of the order or refill request
    patient_name: str
    patient_dob: str  # ISO date
    drug: str
    strength: str
    sig: str
    quantity: int | None
    refills: int | None
    pharmacy: str
    prescriber: str
    prescriber_npi: str
    controlled_schedule: str = ""
    note: str = ""


@dataclass(frozen=True)
class PharmacyResult:
    accepted: bool
    confirmation: str  # the pharmacy's reference, or the reason it was refused


class PharmacyBackend(Protocol):
    def send(self, message: PharmacyMessage) -> PharmacyResult: ...


class ConsoleBackend:
    """Logs the message; accepts unless the pharmacy's name starts with REJECT."""

    def send(self, message: PharmacyMessage) -> PharmacyResult:
        log.info("pharmacy %s: %s %s for %s", message.kind, message.drug, message.strength, message.reference)
        if message.pharmacy.upper().startswith("REJECT"):
            return PharmacyResult(False, "Pharmacy refused: not a participating pharmacy")
        return PharmacyResult(True, f"CONSOLE-{message.reference[:8].upper()}")


def get_backend() -> PharmacyBackend:
    path = getattr(settings, "PHARMACY_BACKEND", "orders.pharmacy.ConsoleBackend")
    backend: PharmacyBackend = import_string(path)()
    return backend
