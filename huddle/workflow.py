"""Chart-scrub states and transitions: the only code that sets ChartScrub.status or marks an item."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from vma.access import can_access_patient
from vma.exceptions import ActionRefused, NotPermitted
from vma.workflow import close_work_item, open_work_item

from .days import scrub_due_at
from .models import ChartScrub, ScrubItem

if TYPE_CHECKING:
    from vma.models import User, WorkItem

S = ChartScrub.Status
I = ScrubItem.State  # noqa: E741
TRANSITIONS: dict[str, frozenset[str]] = {
    S.OPEN: frozenset({S.SCRUBBED, S.CANCELLED}),
    S.SCRUBBED: frozenset({S.OPEN, S.CANCELLED}),  # re-opened when an item newly needs action
    S.CANCELLED: frozenset({S.OPEN}),  # the visit holds time again
}
SCRUB_KIND = "huddle.scrub"
WORK_PERM = "huddle.work_chartscrub"


def scrub_url(item: WorkItem) -> str:
    return reverse("huddle_scrub", args=[item.subject.public_id])  # type: ignore[union-attr]


def _check_actor(actor: User, scrub: ChartScrub) -> None:
    if not can_access_patient(actor, scrub.patient, WORK_PERM):
        raise NotPermitted("You cannot work this chart scrub.")


def _lock(scrub: ChartScrub) -> ChartScrub:
    return ChartScrub.objects.select_for_update(of=("self",)).select_related("patient", "appointment").get(pk=scrub.pk)


def _move(scrub: ChartScrub, *, to: str, **changes: Any) -> ChartScrub:
    """Refuse a move the table does not allow, save. Callers are atomic and hold the row lock."""
    if to not in TRANSITIONS[scrub.status]:
        raise ActionRefused(f"This scrub is {scrub.get_status_display().lower()}; it cannot become {to}.")
    scrub.status = to
    fields = {"status", "updated_at"}
    for name, value in changes.items():
        setattr(scrub, name, value)
        fields.add(name)
    scrub.save(update_fields=sorted(fields))
    return scrub


def open_scrub_item(scrub: ChartScrub) -> None:
    """The scrub's work item (idempotent per scrub), due 15:00 the working day before the visit."""
    visit = scrub.appointment
    open_work_item(
        kind=SCRUB_KIND,
        subject=scrub,
        patient=scrub.patient,
        title=f"Scrub the chart for {timezone.localtime(visit.start_at):%a %m/%d %H:%M} ({visit.visit_type})",
        detail="Work the checklist on the scrub page and mark the chart scrubbed.",
        due_at=scrub_due_at(scrub.day),
    )


@transaction.atomic
def mark_item(item: ScrubItem, *, state: str, note: str = "", actor: User) -> ScrubItem:
    """A person marks a line done or not applicable (a note is required for not applicable)."""
    scrub = _lock(item.scrub)
    _check_actor(actor, scrub)
    if scrub.status == S.CANCELLED:
        raise ActionRefused("This visit was cancelled; its scrub is closed.")
    note = note.strip()
    if state not in ScrubItem.MANUAL:
        raise ActionRefused("Mark an item done or not applicable.", status_code=400)
    if state == I.NOT_APPLICABLE and not note:
        raise ActionRefused("Say why this item does not apply (a note is required).", status_code=400)
    item = ScrubItem.objects.select_for_update().get(pk=item.pk)
    item.state, item.note, item.marked_by, item.marked_at = state, note[:300], actor, timezone.now()
    item.save(update_fields=["state", "note", "marked_by", "marked_at", "updated_at"])
    _recount(scrub)
    return item


@transaction.atomic
def unmark_item(item: ScrubItem, *, actor: User) -> ScrubItem:
    """Undo a person's mark: the line shows what the chart says again."""
    scrub = _lock(item.scrub)
    _check_actor(actor, scrub)
    item = ScrubItem.objects.select_for_update().get(pk=item.pk)
    item.state, item.note, item.marked_by, item.marked_at = item.auto_state, "", None, None
    item.save(update_fields=["state", "note", "marked_by", "marked_at", "updated_at"])
    scrub = _recount(scrub)
    if scrub.status == S.SCRUBBED and scrub.needs_action:
        reopen(scrub, reason=f"{item.label}: mark undone.")
    return item


def _recount(scrub: ChartScrub) -> ChartScrub:
    scrub.needs_action = scrub.items.filter(state=I.NEEDS_ACTION).count()
    scrub.save(update_fields=["needs_action", "updated_at"])
    return scrub


@transaction.atomic
def mark_scrubbed(scrub: ChartScrub, *, actor: User) -> ChartScrub:
    """The chart is ready: refused while any line needs action. Closes the scrub work item."""
    scrub = _lock(scrub)
    _check_actor(actor, scrub)
    waiting = list(
        scrub.items.filter(state=I.NEEDS_ACTION).order_by("position", "code").values_list("label", flat=True)
    )
    if waiting:
        listed = "; ".join(waiting[:5]) + (" …" if len(waiting) > 5 else "")
        raise ActionRefused(
            f"{len(waiting)} item(s) still need action — mark each done or not applicable first: {listed}."
        )
    scrub = _move(scrub, to=S.SCRUBBED, scrubbed_at=timezone.now(), scrubbed_by=actor, reopened_reason="")
    close_work_item(kind=SCRUB_KIND, subject=scrub, note="Chart scrubbed.", actor=actor)
    return scrub


def reopen(scrub: ChartScrub, *, reason: str) -> ChartScrub:
    """New information needs action on a scrubbed chart (system; the caller holds the lock)."""
    scrub = _move(scrub, to=S.OPEN, reopened_reason=reason[:300])
    open_scrub_item(scrub)
    return scrub


def cancel(scrub: ChartScrub, *, reason: str) -> ChartScrub:
    """The visit no longer holds time: the scrub and its work item close (system)."""
    scrub = _move(scrub, to=S.CANCELLED, reopened_reason=reason[:300])
    close_work_item(kind=SCRUB_KIND, subject=scrub, note=reason, cancel=True)
    return scrub


def restore(scrub: ChartScrub) -> ChartScrub:
    scrub = _move(scrub, to=S.OPEN, reopened_reason="The visit is back on the schedule.")
    open_scrub_item(scrub)
    return scrub
