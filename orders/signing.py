"""The one signing queue: every registered kind (orders, notes, refills) signed or returned in one batch.

`sign_batch` and `return_batch` are what the page and the API call. Items are
(kind code, public id, content hash as shown). The second factor (password + one-time code) is
checked here, once per batch, for the items whose kind says they need it; without it those items
are refused with the reason and the others are signed (a provider signing twenty lines should not
lose nineteen signatures to one mistyped code). Each kind signs its items in its own transaction;
every item gets an outcome, so nothing is half-done silently.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from vma.exceptions import ActionRefused, NotPermitted
from vma.signing import BatchResult, PendingSignature, SignOutcome, signable_kind, signable_kinds

from . import second_factor, selectors, workflow
from .policy import SIGN

if TYPE_CHECKING:
    from datetime import datetime

    from patients.models import Patient
    from vma.models import User

log = logging.getLogger(__name__)

Item = tuple[str, UUID, str]  # (kind, public id, content hash)

# The provider whose second factor this batch verified: the order kind's `sign` reads it, so a
# caller that skips `sign_batch` cannot sign a controlled substance (fails closed).
_second_factor_for: ContextVar[int | None] = ContextVar("orders_second_factor_for", default=None)


class OrderSignable:
    """Orders as a SignableKind (registered in OrdersConfig.ready())."""

    code = workflow.KIND_CODE
    label = "Orders"

    def pending_for(self, provider: User) -> Sequence[PendingSignature]:
        return [selectors.order_line(o) for o in selectors.pending_orders(provider)]

    def sign(self, ids: Iterable[UUID], *, provider: User, hashes: dict[UUID, str]) -> list[SignOutcome]:
        verified = _second_factor_for.get() == provider.pk
        return workflow.sign_orders(ids, provider=provider, hashes=hashes, second_factor_ok=verified)

    def send_back(self, ids: Iterable[UUID], *, provider: User, comment: str) -> list[SignOutcome]:
        return workflow.return_orders(ids, provider=provider, comment=comment)


# ---------------------------------------------------------------------------------------------
# Parsing what the page and the API post
# ---------------------------------------------------------------------------------------------


def parse_item(value: str) -> Item:
    """'<kind>:<public_id>:<content_hash>' → a tuple; ValueError with a readable message."""
    parts = (value or "").strip().split(":")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"“{value}” is not an item (kind:id:hash).")
    kind, raw_id, digest = parts
    try:
        public_id = UUID(raw_id)
    except ValueError:
        raise ValueError(f"“{raw_id}” is not an item id.") from None
    return kind, public_id, digest


def parse_items(values: Iterable[str]) -> list[Item]:
    return [parse_item(v) for v in values]


# ---------------------------------------------------------------------------------------------
# The queue
# ---------------------------------------------------------------------------------------------


@dataclass
class PatientGroup:
    patient: Patient
    lines: list[PendingSignature]


def signing_queue(provider: User) -> list[PatientGroup]:
    """Everything awaiting the provider, every kind, grouped by patient (by name), oldest first within."""
    if not provider.has_perm(SIGN):
        raise NotPermitted("Only a provider has a signing queue.")
    groups: dict[int, PatientGroup] = {}
    for kind in signable_kinds():
        for line in kind.pending_for(provider):
            group = groups.setdefault(line.patient.pk, PatientGroup(line.patient, []))
            group.lines.append(line)
    for group in groups.values():
        group.lines.sort(key=lambda line: (line.pended_at, line.kind, str(line.public_id)))
    return sorted(groups.values(), key=lambda g: (g.patient.last_name, g.patient.first_name, g.patient.pk))


# ---------------------------------------------------------------------------------------------
# Signing and returning a batch
# ---------------------------------------------------------------------------------------------


def _by_kind(items: Sequence[Item]) -> dict[str, list[Item]]:
    grouped: dict[str, list[Item]] = defaultdict(list)
    seen: set[tuple[str, UUID]] = set()
    for kind, public_id, digest in items:
        if (kind, public_id) not in seen:  # the same line ticked twice counts once
            seen.add((kind, public_id))
            grouped[kind].append((kind, public_id, digest))
    return grouped


def _in_given_order(items: Sequence[Item], outcomes: list[SignOutcome]) -> BatchResult:
    found = {(o.kind, o.public_id): o for o in outcomes}
    ordered = [found.pop((k, i)) for k, i, _ in items if (k, i) in found]
    return BatchResult(ordered)


def _run_kind(kind_code: str, ids: list[UUID], call: str, provider: User, **kwargs: object) -> list[SignOutcome]:
    """One kind's sign/send_back, every id accounted for even if the kind fails."""
    kind = signable_kind(kind_code)
    if kind is None:
        return [SignOutcome(kind_code, i, False, f"Unknown kind of item “{kind_code}”.") for i in ids]
    try:
        outcomes: list[SignOutcome] = getattr(kind, call)(ids, provider=provider, **kwargs)
    except NotPermitted:
        raise
    except ActionRefused as exc:
        return [SignOutcome(kind_code, i, False, exc.message) for i in ids]
    except Exception:
        # Another app's kind failed: its own transaction rolled back, so none of its items were
        # done. Say so per item rather than turning the batch (whose other kinds committed) into a 500.
        log.exception("signing: %s.%s failed for %d item(s)", kind_code, call, len(ids))
        return [
            SignOutcome(kind_code, i, False, "Not done: an error occurred; nothing was changed for it.") for i in ids
        ]
    answered = {o.public_id for o in outcomes}
    outcomes += [SignOutcome(kind_code, i, False, "Not done: no answer for it.") for i in ids if i not in answered]
    return outcomes


Lines = dict[tuple[str, UUID], PendingSignature]


def pending_lines(provider: User, kinds: Iterable[str]) -> Lines:
    """What awaits the provider in these kinds, by (kind, id): which need the second factor, titles."""
    lines: Lines = {}
    for code in set(kinds):
        kind = signable_kind(code)
        if kind is not None:
            lines.update({(code, line.public_id): line for line in kind.pending_for(provider)})
    return lines


def describe(result: BatchResult, lines: Lines) -> list[dict[str, object]]:
    """Outcomes for a page (JSON-safe, kept in the session between the POST and the queue page)."""
    out: list[dict[str, object]] = []
    for o in result.outcomes:
        line = lines.get((o.kind, o.public_id))
        out.append(
            {
                "kind": o.kind,
                "id": str(o.public_id),
                "ok": o.ok,
                "message": o.message,
                "title": line.title if line else f"{o.kind.capitalize()} {str(o.public_id)[:8]}",
                "patient": f"{line.patient.last_name}, {line.patient.first_name}" if line else "",
            }
        )
    return out


def sign_batch(
    provider: User,
    items: list[Item],
    *,
    password: str | None = None,
    otp: str | None = None,
    pending: Lines | None = None,
    now: datetime | None = None,
) -> BatchResult:
    """Sign the selected items. NotPermitted for anyone but a provider; per-item refusals otherwise.

    `pending` (from pending_lines) saves reading the queue again when the caller already has it.
    """
    if not (provider.is_authenticated and provider.has_perm(SIGN)):
        raise NotPermitted("Only a provider signs.")
    if not items:
        raise ActionRefused("Select at least one item to sign.", status_code=400)
    grouped = _by_kind(items)
    lines = pending if pending is not None else pending_lines(provider, grouped)
    needs_factor = {
        (kind, public_id)
        for kind, public_id, _ in items
        if (line := lines.get((kind, public_id))) is not None and line.requires_second_factor
    }
    factor_ok, factor_message = (False, "")
    if needs_factor:
        factor_ok, factor_message = second_factor.verify(provider, password=password, otp=otp, now=now)
    outcomes: list[SignOutcome] = []
    token = _second_factor_for.set(provider.pk if factor_ok else None)
    try:
        for code, kind_items in grouped.items():
            to_sign = [(i, d) for _, i, d in kind_items if factor_ok or (code, i) not in needs_factor]
            outcomes += [
                SignOutcome(code, i, False, factor_message)
                for _, i, _ in kind_items
                if not factor_ok and (code, i) in needs_factor
            ]
            if to_sign:
                outcomes += _run_kind(code, [i for i, _ in to_sign], "sign", provider, hashes=dict(to_sign))
    finally:
        _second_factor_for.reset(token)
    return _in_given_order(list(items), outcomes)


def return_batch(provider: User, items: list[Item], *, comment: str) -> BatchResult:
    """Send the selected items back to whoever pended them, with the provider's comment."""
    if not (provider.is_authenticated and provider.has_perm(SIGN)):
        raise NotPermitted("Only a provider returns items.")
    if not items:
        raise ActionRefused("Select at least one item to return.", status_code=400)
    comment = (comment or "").strip()
    if not comment:
        raise ActionRefused("Say what needs to change (a comment is required to return).", status_code=400)
    outcomes: list[SignOutcome] = []
    for code, kind_items in _by_kind(items).items():
        outcomes += _run_kind(code, [i for _, i, _ in kind_items], "send_back", provider, comment=comment)
    return _in_given_order(list(items), outcomes)
