"""The protocol check: each line passed or failed with its reason, evaluated in batch (constant queries).

Lines, in order: no red-flag terms; not a controlled substance; on the active medication list; a protocol
covers the medication's class; a completed visit with the prescriber within N months; each required lab
within N months; refills asked within the protocol's maximum; days' supply within its maximum.

Outcome: a failed red-flag, controlled, medication-list or protocol line → provider review (the protocol
does not apply); otherwise a visit too old → needs appointment (the labs can be drawn at that visit);
otherwise any failed line → provider review; all passed → pended for the provider's signature.

Lab evidence is what patients/ already treats as a result: a filed lab-result document whose title contains
a match term, a received expected result whose title does (patients.workflow's title rule), or a recorded
procedure of the lab's code; dated evidence closes a line for N months as care gaps do (patients/caregaps.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db.models import Max
from django.utils import timezone

from patients.caregaps import SHORT_LABELS
from patients.models import ChartDocument, ExpectedResult, Medication, Procedure
from patients.workflow import _title_hint
from scheduling.models import Appointment

from .matching import matches_drug, medication_key
from .models import MedicationClass, RefillProtocol, RefillRequest

PENDED = RefillRequest.Status.PENDED
NEEDS_APPOINTMENT = RefillRequest.Status.NEEDS_APPOINTMENT
NEEDS_REVIEW = RefillRequest.Status.NEEDS_REVIEW
HARD_LINES = ("red_flags", "controlled", "medication_list", "protocol")
SCHEDULE_LABELS = {"CII": "Schedule II", "CIII": "Schedule III", "CIV": "Schedule IV", "CV": "Schedule V"}


@dataclass(frozen=True)
class CheckLine:
    code: str  # "visit", "lab:Lipid panel", "refills", …
    label: str  # what the line requires, in words
    passed: bool
    reason: str  # why it passed or failed, with dates and numbers


@dataclass
class CheckResult:
    lines: list[CheckLine]
    outcome: str  # a RefillRequest.Status: pended, needs_appointment or needs_review
    medication_id: int | None = None  # the chart medication the request matched, if any
    medication_class_id: int | None = None
    controlled_schedule: str = ""

    @property
    def passed(self) -> bool:
        return all(line.passed for line in self.lines)

    def as_json(self) -> list[dict[str, Any]]:
        return [asdict(line) for line in self.lines]

    @property
    def summary(self) -> str:
        failed = [line for line in self.lines if not line.passed]
        if not failed:
            return "Protocol met: " + "; ".join(
                line.reason for line in self.lines if line.code.startswith(("visit", "lab:"))
            )
        return "; ".join(f"{line.label}: {line.reason}" for line in failed)


@dataclass
class _Med:
    pk: int
    name: str
    dose: str
    start: date | None
    key: str


@dataclass
class _Chart:
    meds: list[_Med] = field(default_factory=list)
    visits: dict[int, datetime] = field(default_factory=dict)  # provider id -> last completed visit
    labs: list[tuple[str, date, str]] = field(default_factory=list)  # (title, day, where)
    procedures: dict[str, date] = field(default_factory=dict)


@dataclass(frozen=True)
class _Class:
    cls: MedicationClass
    protocol: RefillProtocol | None


def load_classes() -> list[_Class]:
    """Active medication classes with their active protocol (one query)."""
    out = []
    for cls in MedicationClass.objects.filter(active=True).select_related("protocol").order_by("name"):
        try:
            protocol: RefillProtocol | None = cls.protocol
        except RefillProtocol.DoesNotExist:
            protocol = None
        out.append(_Class(cls, protocol if protocol is not None and protocol.active else None))
    return out


def classes_for(
    request: RefillRequest, classes: Sequence[_Class], med_name: str = "", memo: dict[Any, list[_Class]] | None = None
) -> list[_Class]:
    """The classes whose patterns name the requested drug (or the chart's medication it matched)."""
    key = (request.medication_text, med_name)
    if memo is not None and key in memo:
        return memo[key]
    found = [c for c in classes if matches_drug(c.cls.drug_patterns, request.medication_text, med_name)]
    if memo is not None:
        memo[key] = found
    return found


def _load(patient_ids: list[int], classes: Sequence[_Class], now: datetime) -> dict[int, _Chart]:
    day = timezone.localdate(now)
    tz = timezone.get_current_timezone()  # once: localdate() per row costs more than the row
    charts: dict[int, _Chart] = defaultdict(_Chart)
    for pk, pid, name, dose, start in (
        Medication.objects.filter(patient_id__in=patient_ids)
        .exclude(stop_date__lt=day)
        .exclude(start_date__gt=day)
        .values_list("pk", "patient_id", "name", "dose", "start_date")
    ):
        charts[pid].meds.append(_Med(pk, name, dose, start, medication_key(name)))
    visits = (
        Appointment.objects.filter(patient_id__in=patient_ids, status=Appointment.Status.COMPLETED, start_at__lte=now)
        .values("patient_id", "provider_id")
        .annotate(last=Max("start_at"))
        .values_list("patient_id", "provider_id", "last")
        .order_by()
    )
    for pid, provider_id, last in visits:
        if last is not None:
            charts[pid].visits[provider_id] = last
    labs = [lab for c in classes if c.protocol for lab in c.protocol.required_labs]
    if labs:
        since = now - relativedelta(months=max(int(lab["months"]) for lab in labs))
        for pid, title, at in ChartDocument.objects.filter(
            patient_id__in=patient_ids,
            category=ChartDocument.Category.LAB_RESULT,
            received_at__gte=since,
            received_at__lte=now,
        ).values_list("patient_id", "title", "received_at"):
            charts[pid].labs.append((title, at.astimezone(tz).date(), "filed lab result"))
        for pid, title, got in ExpectedResult.objects.filter(
            patient_id__in=patient_ids,
            status=ExpectedResult.Status.RECEIVED,
            received_at__gte=since,
            received_at__lte=now,
        ).values_list("patient_id", "title", "received_at"):
            if got is not None:
                charts[pid].labs.append((title, got.astimezone(tz).date(), "received result"))
        codes = sorted({lab["procedure"] for lab in labs if lab.get("procedure")})
        if codes:
            procs = (
                Procedure.objects.filter(
                    patient_id__in=patient_ids, code__in=codes, performed_on__gte=since.date(), performed_on__lte=day
                )
                .values("patient_id", "code")
                .annotate(last=Max("performed_on"))
                .values_list("patient_id", "code", "last")
                .order_by()
            )
            for pid, code, last in procs:
                charts[pid].procedures[code] = last
    return charts


def _months_ago(then: date, day: date) -> str:
    delta = relativedelta(day, then)
    months = delta.years * 12 + delta.months
    if months == 0:
        return "this month" if delta.days < 28 else "1 month ago"
    return f"{months} month{'s' if months != 1 else ''} ago"


def _lab_line(lab: dict[str, Any], chart: _Chart, day: date) -> CheckLine:
    name, months = str(lab["name"]), int(lab["months"])
    terms = [str(t) for t in lab.get("match", [])]
    found: list[tuple[date, str]] = [
        (on, f"{where} “{title}”") for title, on, where in chart.labs if any(_title_hint(t, title) for t in terms)
    ]
    code = lab.get("procedure")
    if code and code in chart.procedures:
        found.append((chart.procedures[code], f"recorded {SHORT_LABELS.get(code, code)}"))
    label = f"{name} within {months} months"
    if not found:
        return CheckLine(f"lab:{name}", label, False, f"No {name.lower()} on record in the last {months} months")
    last, where = max(found)
    if last + relativedelta(months=months) > day:
        return CheckLine(f"lab:{name}", label, True, f"{name} {last:%m/%d/%Y} ({where})")
    return CheckLine(f"lab:{name}", label, False, f"Last {name.lower()} {last:%m/%d/%Y}, {_months_ago(last, day)}")


def _match_med(request: RefillRequest, chart: _Chart) -> _Med | None:
    if request.medication_id is not None:
        linked = next((m for m in chart.meds if m.pk == request.medication_id), None)
        if linked is not None:
            return linked
    return next((m for m in chart.meds if m.key == request.medication_key), None)


def evaluate_one(
    request: RefillRequest,
    chart: _Chart,
    classes: Sequence[_Class],
    now: datetime,
    memo: dict[Any, list[_Class]] | None = None,
) -> CheckResult:
    """Every line for one request, from preloaded data (no queries)."""
    day = timezone.localdate(now)
    lines: list[CheckLine] = []
    med = _match_med(request, chart)
    matched = classes_for(request, classes, med.name if med else "", memo)
    schedule = request.controlled_schedule or next(
        (c.cls.controlled_schedule for c in matched if c.cls.controlled_schedule), ""
    )
    flags = list(request.red_flags or [])
    lines.append(
        CheckLine("red_flags", "No red-flag symptoms in the request", True, "None found in the request text")
        if not flags
        else CheckLine(
            "red_flags",
            "No red-flag symptoms in the request",
            False,
            f"The request mentions {', '.join(flags)}: escalated to a licensed person",
        )
    )
    if schedule:
        lines.append(
            CheckLine(
                "controlled",
                "Not a controlled substance",
                False,
                f"{SCHEDULE_LABELS.get(schedule, schedule)} controlled substance: never refilled by protocol",
            )
        )
    else:
        lines.append(CheckLine("controlled", "Not a controlled substance", True, "Not scheduled"))
    if med is not None:
        since = f", since {med.start:%m/%d/%Y}" if med.start else ""
        lines.append(
            CheckLine(
                "medication_list", "On the active medication list", True, f"{med.name} {med.dose}".strip() + since
            )
        )
    else:
        lines.append(
            CheckLine(
                "medication_list",
                "On the active medication list",
                False,
                f"“{request.medication_text}” is not an active medication in the chart",
            )
        )
    protocols = [c for c in matched if c.protocol is not None]
    if not protocols:
        why = (
            f"No refill protocol for {', '.join(c.cls.name for c in matched)}"
            if matched
            else f"No medication class matches “{request.medication_text}”"
        )
        lines.append(CheckLine("protocol", "A refill protocol covers this medication", False, why))
    else:
        lines.append(
            CheckLine(
                "protocol",
                "A refill protocol covers this medication",
                True,
                "; ".join(f"{c.cls.name} protocol" for c in protocols),
            )
        )
        rules = [c.protocol for c in protocols if c.protocol is not None]
        months = min(p.visit_within_months for p in rules)
        provider = request.provider
        last = chart.visits.get(request.provider_id)
        label = f"Visit with {provider} within {months} months"
        if last is None:
            lines.append(CheckLine("visit", label, False, f"No completed visit with {provider} on record"))
        else:
            last_day = timezone.localdate(last)
            ok = last_day + relativedelta(months=months) > day
            lines.append(
                CheckLine("visit", label, ok, f"Last visit {last_day:%m/%d/%Y} ({_months_ago(last_day, day)})")
            )
        seen: set[str] = set()
        for rule in rules:
            for lab in rule.required_labs:
                if lab["name"] not in seen:
                    seen.add(lab["name"])
                    lines.append(_lab_line(lab, chart, day))
        max_refills = min(p.max_refills for p in rules)
        asked = request.refills or 0
        lines.append(
            CheckLine(
                "refills",
                f"Refills within the protocol's maximum ({max_refills})",
                asked <= max_refills,
                f"{asked} requested" + ("" if asked <= max_refills else f"; at most {max_refills} by protocol"),
            )
        )
        max_days = min(p.max_days_supply for p in rules)
        label = f"Days' supply within the protocol's maximum ({max_days})"
        if request.days_supply is None:
            lines.append(CheckLine("days_supply", label, False, "Days' supply not given"))
        else:
            ok = request.days_supply <= max_days
            lines.append(
                CheckLine(
                    "days_supply",
                    label,
                    ok,
                    f"{request.days_supply} days requested" + ("" if ok else f"; at most {max_days} by protocol"),
                )
            )
    failed = {line.code for line in lines if not line.passed}
    if failed & set(HARD_LINES):
        outcome = NEEDS_REVIEW
    elif "visit" in failed:
        outcome = NEEDS_APPOINTMENT
    elif failed:
        outcome = NEEDS_REVIEW
    else:
        outcome = PENDED
    return CheckResult(
        lines=lines,
        outcome=outcome,
        medication_id=med.pk if med else None,
        medication_class_id=(protocols[0].cls.pk if protocols else (matched[0].cls.pk if matched else None)),
        controlled_schedule=schedule,
    )


def evaluate(requests: Sequence[RefillRequest], *, now: datetime | None = None) -> dict[int, CheckResult]:
    """Check many requests at once: per request pk, its result. Six queries, whatever the count.

    The requests need `provider` loaded (select_related) for the line labels.
    """
    now = now or timezone.now()
    if not requests:
        return {}
    classes = load_classes()
    charts = _load(sorted({r.patient_id for r in requests}), classes, now)
    memo: dict[Any, list[_Class]] = {}
    return {r.pk: evaluate_one(r, charts[r.patient_id], classes, now, memo) for r in requests}
