"""Care gaps and standing orders: rules kept as data, evaluated in batch (constant queries).

A rule is due for a patient who matches its sex, age band (inclusive, age on `as_of`) and, when
it names problems, has an active problem whose ICD-10 code starts with one of its prefixes. It is
open unless one of its evidence options was recorded within its interval: a procedure done on
day D with an interval of N months closes the gap until D + N months (on that day it opens again).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.db.models import Max
from django.utils import timezone

from .models import (
    CareGapRule,
    ExpectedResult,
    Immunization,
    Medication,
    Patient,
    Problem,
    Procedure,
    ProcedureCode,
    StandingOrderProtocol,
)


@dataclass(frozen=True)
class GapDue:
    rule_code: str  # e.g. "breast-cancer-screening"
    title: str  # "Breast cancer screening"
    reason: str  # why it is open, plain words


@dataclass(frozen=True)
class StandingOrderSuggestion:
    protocol_code: str  # e.g. "a1c-diabetes-6m"
    title: str  # "HbA1c"
    reason: str  # "Diabetes (E11.9) and no HbA1c in 6 months"


@dataclass(frozen=True)
class GapView:
    """An open gap as the patient page shows it: why it is open and what closes it."""

    gap: GapDue
    closes_with: str


# Short names used inside sentences ("no FIT since 03/2024").
SHORT_LABELS: dict[str, str] = {
    ProcedureCode.MAMMOGRAM: "mammogram",
    ProcedureCode.COLONOSCOPY: "colonoscopy",
    ProcedureCode.FIT: "FIT",
    ProcedureCode.FIT_DNA: "FIT-DNA",
    ProcedureCode.FLEX_SIG: "flexible sigmoidoscopy",
    ProcedureCode.CT_COLONOGRAPHY: "CT colonography",
    ProcedureCode.CERVICAL_CYTOLOGY: "cervical cytology",
    ProcedureCode.HPV_TEST: "HPV test",
    ProcedureCode.HBA1C: "HbA1c",
    ProcedureCode.BP_READING: "blood pressure reading",
    ProcedureCode.LIPID_PANEL: "lipid panel",
    ProcedureCode.TSH: "TSH",
    ProcedureCode.EYE_EXAM: "diabetic eye exam",
    ProcedureCode.URINE_ALBUMIN: "urine albumin-creatinine ratio",
}


def flu_season_start(day: date) -> date | None:
    """The start (Aug 1) of the influenza season `day` falls in, or None from April to July."""
    if day.month >= 8:
        return date(day.year, 8, 1)
    if day.month <= 3:
        return date(day.year - 1, 8, 1)
    return None


def age_on(dob: date, day: date) -> int:
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def _dotless(code: str) -> str:
    return code.replace(".", "").replace(" ", "").upper()


def matching_problem(codes: Iterable[str], prefixes: Iterable[str]) -> str | None:
    wanted = [_dotless(p) for p in prefixes if p]
    for code in sorted(codes):
        if any(_dotless(code).startswith(p) for p in wanted):
            return code
    return None


# ---------------------------------------------------------------------------------------------
# Evidence options
# ---------------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def validate_evidence(evidence: Any, *, seasonal: bool = False) -> None:
    """Refuse evidence a rule could not be evaluated with, saying what is wrong."""
    if not isinstance(evidence, list) or not evidence:
        raise ValidationError({"evidence": "List at least one option that closes the gap."})
    for i, option in enumerate(evidence, 1):
        if not isinstance(option, dict):
            raise ValidationError({"evidence": f"Option {i} must be an object."})
        procs, cvx = _as_list(option.get("procedure")), _as_list(option.get("cvx"))
        if bool(procs) == bool(cvx):
            raise ValidationError({"evidence": f"Option {i}: give either procedure codes or CVX codes."})
        unknown = [p for p in procs if p not in ProcedureCode.values]
        if unknown:
            raise ValidationError({"evidence": f"Option {i}: unknown procedure code(s) {', '.join(unknown)}."})
        if any(not c.isdigit() or len(c) > 3 for c in cvx):
            raise ValidationError({"evidence": f"Option {i}: CVX codes are 1 to 3 digits."})
        months = option.get("months")
        if months is not None and (not isinstance(months, int) or months <= 0):
            raise ValidationError({"evidence": f"Option {i}: months must be a positive whole number."})
        for key in ("min_age", "max_age"):
            if option.get(key) is not None and not isinstance(option.get(key), int):
                raise ValidationError({"evidence": f"Option {i}: {key} must be a whole number."})
        if procs and not option.get("label") and len(procs) > 1:
            raise ValidationError({"evidence": f"Option {i}: give a label for several procedure codes."})
        if cvx and not option.get("label"):
            raise ValidationError({"evidence": f"Option {i}: give a label for the vaccine (e.g. influenza vaccine)."})
    if seasonal and any(o.get("months") for o in evidence):
        raise ValidationError({"evidence": "A seasonal rule closes with evidence from the season: leave months out."})


def option_label(option: dict[str, Any]) -> str:
    if option.get("label"):
        return str(option["label"])
    procs = _as_list(option.get("procedure"))
    return SHORT_LABELS.get(procs[0], procs[0]) if procs else "evidence"


def _every(months: int) -> str:
    if months % 12 == 0 and months >= 12:
        years = months // 12
        return "yearly" if years == 1 else f"every {years} years"
    return f"every {months} months"


def closes_with(rule: CareGapRule) -> str:
    """What closes the gap, in plain words."""
    parts = []
    for option in rule.evidence:
        text = option_label(option)
        if rule.seasonal:
            text += " this season (from Aug 1)"
        elif option.get("months"):
            text += f" within {option['months']} months"
        else:
            text += " (once)"
        if option.get("min_age") or option.get("max_age"):
            text += f" (aged {_band(option.get('min_age'), option.get('max_age'))})"
        parts.append(text)
    text = parts[0] if len(parts) == 1 else "one of: " + "; ".join(parts)
    return text[0].upper() + text[1:]


def _band(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo}–{hi}"
    if lo is not None:
        return f"{lo} or older"
    return f"up to {hi}"


# ---------------------------------------------------------------------------------------------
# Loading charts in batch
# ---------------------------------------------------------------------------------------------


@dataclass
class _Chart:
    dob: date
    sex: str
    problems: list[str] = field(default_factory=list)
    procedures: dict[str, date] = field(default_factory=dict)  # code -> last performed on or before as_of
    vaccines: dict[str, date] = field(default_factory=dict)  # cvx -> last given on or before as_of
    medications: list[str] = field(default_factory=list)  # active names, lower case

    def last_of(self, option: dict[str, Any]) -> date | None:
        dates = [self.procedures[c] for c in _as_list(option.get("procedure")) if c in self.procedures]
        dates += [self.vaccines[c] for c in _as_list(option.get("cvx")) if c in self.vaccines]
        return max(dates) if dates else None


def _load(ids: list[int], day: date, *, vaccines: bool, medications: bool) -> dict[int, _Chart]:
    charts = {
        pid: _Chart(dob=dob, sex=sex)
        for pid, dob, sex in Patient.objects.filter(id__in=ids).values_list("id", "date_of_birth", "sex")
    }
    problems = Problem.objects.filter(patient_id__in=ids, status=Problem.Status.ACTIVE).values_list(
        "patient_id", "code"
    )
    for pid, code in problems:
        charts[pid].problems.append(code)
    procs = (
        Procedure.objects.filter(patient_id__in=ids, performed_on__lte=day)
        .values("patient_id", "code")
        .annotate(last=Max("performed_on"))
        .values_list("patient_id", "code", "last")
        .order_by()
    )
    for pid, code, last in procs:
        charts[pid].procedures[code] = last
    if vaccines:
        given = (
            Immunization.objects.filter(patient_id__in=ids, given_on__lte=day)
            .values("patient_id", "cvx_code")
            .annotate(last=Max("given_on"))
            .values_list("patient_id", "cvx_code", "last")
            .order_by()
        )
        for pid, cvx, last in given:
            charts[pid].vaccines[cvx] = last
    if medications:
        meds = (
            Medication.objects.filter(patient_id__in=ids)
            .exclude(stop_date__lt=day)
            .exclude(start_date__gt=day)
            .values_list("patient_id", "name")
        )
        for pid, name in meds:
            charts[pid].medications.append(name.lower())
    return charts


# ---------------------------------------------------------------------------------------------
# Care gaps
# ---------------------------------------------------------------------------------------------


def _eligibility_text(rule: CareGapRule, chart: _Chart, problem: str | None) -> str:
    who = {"F": "Woman", "M": "Man"}.get(rule.sex, "")
    if rule.min_age is not None or rule.max_age is not None:
        band = _band(rule.min_age, rule.max_age)
        who = f"{who} aged {band}" if who else f"Aged {band}"
    parts = [who] if who else []
    if problem:
        parts.append(f"{rule.problem_label or 'Problem'} ({problem})")
    return ", ".join(parts) if parts else "Everyone"


def _option_text(option: dict[str, Any], last: date | None, *, single: bool) -> str:
    label = option_label(option)
    months = option.get("months")
    if single:
        text = f"no {label} since {last:%m/%Y}" if last else f"no {label} on record"
        return f"{text} (due every {months} months)" if months else text
    within = f" within {months} months" if months else ""
    return f"{label}{within} ({f'last {last:%m/%Y}' if last else 'none on record'})"


def evaluate_rule(rule: CareGapRule, chart: _Chart, day: date) -> GapDue | None:
    """The open gap for this chart on `day`, or None when not eligible or closed."""
    if rule.sex != CareGapRule.Sex.ANY and chart.sex != rule.sex:
        return None
    age = age_on(chart.dob, day)
    if (rule.min_age is not None and age < rule.min_age) or (rule.max_age is not None and age > rule.max_age):
        return None
    problem = None
    if rule.problem_prefixes:
        problem = matching_problem(chart.problems, rule.problem_prefixes)
        if problem is None:
            return None
    season = flu_season_start(day) if rule.seasonal else None
    if rule.seasonal and season is None:
        return None  # not due out of season
    options = [
        o
        for o in rule.evidence
        if (o.get("min_age") is None or age >= o["min_age"]) and (o.get("max_age") is None or age <= o["max_age"])
    ]
    lasts = []
    for option in options:
        last = chart.last_of(option)
        lasts.append(last)
        if last is None:
            continue
        if season is not None:
            if last >= season:
                return None
        elif not option.get("months") or last + relativedelta(months=option["months"]) > day:
            return None
    who = _eligibility_text(rule, chart, problem)
    if season is not None:
        label = " or ".join(option_label(o) for o in options)
        why = f"no {label} since the season began on {season:%m/%d/%Y}"
    elif len(options) == 1:
        why = _option_text(options[0], lasts[0], single=True)
    else:
        why = "none of: " + ", ".join(
            _option_text(o, last, single=False) for o, last in zip(options, lasts, strict=True)
        )
    return GapDue(rule_code=rule.code, title=rule.title, reason=f"{who}; {why}")


def gap_views(patient_ids: Iterable[int], *, as_of: date | None = None) -> dict[int, list[GapView]]:
    """Open gaps with what closes each (the patient page). Five queries, whatever the count."""
    ids = sorted(set(patient_ids))
    day = as_of or timezone.localdate()
    out: dict[int, list[GapView]] = {pid: [] for pid in ids}
    if not ids:
        return out
    rules = list(CareGapRule.objects.filter(active=True))
    charts = _load(ids, day, vaccines=True, medications=False)
    for pid, chart in charts.items():
        for rule in rules:
            gap = evaluate_rule(rule, chart, day)
            if gap is not None:
                out[pid].append(GapView(gap=gap, closes_with=closes_with(rule)))
    return out


def open_gaps(patient_ids: Iterable[int], *, as_of: date | None = None) -> dict[int, list[GapDue]]:
    """Per patient id, the care gaps open on `as_of` (default today). Constant queries."""
    return {pid: [v.gap for v in views] for pid, views in gap_views(patient_ids, as_of=as_of).items()}


# ---------------------------------------------------------------------------------------------
# Standing orders
# ---------------------------------------------------------------------------------------------


def _protocol_reason(protocol: StandingOrderProtocol, chart: _Chart) -> str | None:
    problem = matching_problem(chart.problems, protocol.problem_prefixes) if protocol.problem_prefixes else None
    if problem:
        return f"{protocol.problem_label or 'Problem'} ({problem})"
    for keyword in protocol.medication_keywords:
        if any(keyword.lower() in name for name in chart.medications):
            return f"On {keyword.lower()}"
    return None


def standing_orders(
    patient_ids: Iterable[int], *, as_of: date | None = None
) -> dict[int, list[StandingOrderSuggestion]]:
    """Per patient id, the orders protocols suggest on `as_of`: the condition holds and the test
    was not done within the interval (nor is it already awaited as an outstanding result)."""
    ids = sorted(set(patient_ids))
    day = as_of or timezone.localdate()
    out: dict[int, list[StandingOrderSuggestion]] = {pid: [] for pid in ids}
    if not ids:
        return out
    protocols = list(StandingOrderProtocol.objects.filter(active=True))
    charts = _load(ids, day, vaccines=False, medications=True)
    awaited: dict[int, set[str]] = defaultdict(set)
    for pid, title in ExpectedResult.objects.filter(
        patient_id__in=ids, status=ExpectedResult.Status.OUTSTANDING
    ).values_list("patient_id", "title"):
        awaited[pid].add(title.strip().lower())
    for pid, chart in charts.items():
        for protocol in protocols:
            why = _protocol_reason(protocol, chart)
            if why is None or protocol.title.strip().lower() in awaited[pid]:
                continue
            last = chart.procedures.get(protocol.procedure)
            if last is not None and last + relativedelta(months=protocol.interval_months) > day:
                continue
            label = SHORT_LABELS.get(protocol.procedure, protocol.title)
            reason = f"{why} and no {label} in {protocol.interval_months} months"
            if last is not None:
                reason += f" (last {last:%m/%d/%Y})"
            out[pid].append(StandingOrderSuggestion(protocol_code=protocol.code, title=protocol.title, reason=reason))
    return out
