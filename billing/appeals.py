"""Appeal letters: drafted from a template with the claim's facts, edited by the biller, then sent.

Templates are practice data in Django template syntax, rendered by an engine of their own that
loads no library, includes no file and sees only plain data (no model objects, so no method of
ours can be reached from a template). Sending moves the claim to appealed and keeps the letter.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import timezone

from vma.access import panel_ids
from vma.exceptions import ActionRefused, NotPermitted

from . import carc, workflow
from .denials import CATEGORIES, describe_codes, describe_remarks
from .models import Appeal, AppealTemplate, Claim, Denial, ProcedureCode

if TYPE_CHECKING:
    from vma.models import User

VIEW = "billing.view_appeal"
ADD = "billing.add_appeal"
CHANGE = "billing.change_appeal"
APPEALABLE = (Claim.Status.DENIED, Claim.Status.PARTIALLY_PAID)
DEFAULT_NAME = "Standard reconsideration"
# Tags that reach outside the facts given (files, libraries, the process): refused in templates.
FORBIDDEN_TAGS = frozenset({"load", "include", "extends", "debug", "ssi", "block"})
_TAG = re.compile(r"{%-?\s*(\w+)")
_ENGINE = Engine(autoescape=False, libraries={}, app_dirs=False, dirs=[])

DEFAULT_TEMPLATE = """{{ practice.name }}
{{ practice.address_line }}
{{ practice.city }}, {{ practice.state }} {{ practice.postal_code }}
NPI {{ practice.npi }} - Tax ID {{ practice.tax_id }}

{{ today|date:"F j, Y" }}

{{ payer.name }}
Attn: Appeals and Reconsiderations

Re: Request for reconsideration of a denied claim
Patient: {{ patient.name }}, born {{ patient.date_of_birth|date:"m/d/Y" }}
Member ID: {{ patient.member_id }}{% if patient.group_number %}, group {{ patient.group_number }}{% endif %}
Claim number: {{ claim.payer_claim_number|default:claim.patient_control_number }} (our reference {{ claim.patient_control_number }})
Date of service: {{ claim.service_date|date:"m/d/Y" }}
Billed: ${{ claim.total_charge }}; paid: ${{ claim.paid_amount }}

To whom it may concern:

We ask you to reconsider your decision on the claim above. {{ provider.name }} (NPI {{ provider.npi }}) provided:
{% for line in lines %}- {{ line.procedure_code }}{% if line.modifiers %}-{{ line.modifiers|join:"-" }}{% endif %} {{ line.label }}, {{ line.units }} unit(s), ${{ line.charge }}
{% endfor %}
for the diagnoses: {% for d in diagnoses %}{{ d.code }} {{ d.description }}{% if not forloop.last %}; {% endif %}{% endfor %}.

The claim was denied with:
{% for d in denials %}{% for c in d.codes %}- {{ c.group }}-{{ c.reason }} {{ c.description }} (${{ c.amount }}){% if d.procedure_code %} on {{ d.procedure_code }}{% endif %}
{% endfor %}{% for r in d.remarks %}  Remark {{ r.code }}: {{ r.description }}
{% endfor %}{% endfor %}
{{ argument }}

Please reprocess the claim and pay the amount due. Records supporting this request are enclosed.

Sincerely,

{{ practice.contact }}
Billing office, {{ practice.name }}
{% if practice.phone %}{{ practice.phone }}{% endif %}
"""


def check_template(body: str) -> None:
    """Refuse a template that reaches outside its facts or does not compile, saying why."""
    used = {m.group(1) for m in _TAG.finditer(body)} & FORBIDDEN_TAGS
    if used:
        raise ActionRefused(
            f"Appeal templates cannot use {{% {', '.join(sorted(used))} %}}: only the claim's facts.", status_code=400
        )
    try:
        _ENGINE.from_string(body)
    except TemplateSyntaxError as exc:
        raise ActionRefused(f"The template does not compile: {exc}", status_code=400) from None


def render(body: str, facts: dict[str, Any]) -> str:
    check_template(body)
    try:
        return _ENGINE.from_string(body).render(Context(facts, autoescape=False)).strip() + "\n"
    except (TemplateSyntaxError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ActionRefused(f"The template could not be filled in: {exc}", status_code=400) from None


def _setting(name: str) -> str:
    return str(getattr(settings, name, "") or "")


def practice_facts() -> dict[str, str]:
    """The practice as letters and statements name it (settings.PRACTICE_*)."""
    return {
        "name": _setting("PRACTICE_NAME"),
        "npi": _setting("PRACTICE_NPI"),
        "tax_id": _setting("PRACTICE_TAX_ID"),
        "address_line": _setting("PRACTICE_ADDRESS_LINE"),
        "city": _setting("PRACTICE_CITY"),
        "state": _setting("PRACTICE_STATE"),
        "postal_code": _setting("PRACTICE_POSTAL_CODE"),
        "phone": _setting("PRACTICE_PHONE"),
        "contact": _setting("BILLING_CONTACT_NAME") or "Billing office",
    }


def facts(claim: Claim, denial: Denial | None = None, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything a letter may say, as plain data: practice, patient, payer, claim, lines, diagnoses, denials."""
    now = now or timezone.now()
    patient, coverage, provider = claim.patient, claim.coverage, claim.rendering_provider
    lines = list(claim.lines.order_by("line_number"))
    labels = dict(
        ProcedureCode.objects.filter(code__in={ln.procedure_code for ln in lines}).values_list("code", "label")
    )
    open_denials = list(claim.denials.filter(status=Denial.Status.OPEN).select_related("remittance_claim"))
    chosen = [denial] if denial is not None else open_denials
    lead = chosen[0] if chosen else None
    category = CATEGORIES.get(lead.category if lead else "other", CATEGORIES["other"])
    return {
        "today": timezone.localdate(now),
        "practice": {
            **practice_facts(),
            # The claim's billing provider as billed (settings may have changed since).
            "name": claim.billing_name,
            "npi": claim.billing_npi,
            "tax_id": claim.billing_tax_id,
        },
        "patient": {
            "name": f"{patient.first_name} {patient.last_name}",
            "first_name": patient.first_name,
            "last_name": patient.last_name,
            "date_of_birth": patient.date_of_birth,
            "member_id": coverage.member_id,
            "group_number": coverage.group_number,
        },
        "payer": {"name": claim.payer.name, "payer_id": claim.payer.payer_id},
        "provider": {"name": provider.get_full_name(), "npi": provider.npi},
        "claim": {
            "patient_control_number": claim.patient_control_number,
            "payer_claim_number": claim.payer_claim_number,
            "service_date": claim.service_date,
            "place_of_service": claim.place_of_service,
            "total_charge": claim.total_charge,
            "paid_amount": claim.paid_amount or Decimal("0.00"),
            "balance": claim.insurance_balance,
            "status": claim.get_status_display(),
        },
        "lines": [
            {
                "line_number": ln.line_number,
                "procedure_code": ln.procedure_code,
                "label": labels.get(ln.procedure_code, ""),
                "modifiers": list(ln.modifiers),
                "units": ln.units,
                "charge": ln.charge,
                "service_date": ln.service_date,
            }
            for ln in lines
        ],
        "diagnoses": [
            {"position": d.position, "code": d.code, "description": d.description}
            for d in claim.diagnoses.order_by("position")
        ],
        "denials": [
            {
                "level": d.get_level_display(),
                "procedure_code": d.procedure_code,
                "group": d.group,
                "group_meaning": carc.group_meaning(d.group),
                "reason": d.reason,
                "description": str(carc.describe_carc(d.reason, on=timezone.localdate(d.created_at)))
                if d.reason
                else "",
                "amount": d.amount,
                "codes": describe_codes(d, on=d.created_at),
                "remarks": describe_remarks(d.remarks, on=d.created_at),
                "category": CATEGORIES.get(d.category, CATEGORIES["other"]).label,
                "next_step": d.next_step,
            }
            for d in chosen
        ],
        "argument": category.appeal_argument,
    }


def template_choices(denial: Denial | None) -> list[tuple[str, str]]:
    """(name, body) of the active templates suiting the denial's CARC, then the built-in standard letter."""
    found: list[tuple[str, str]] = []
    reason = denial.reason if denial else ""
    for t in AppealTemplate.objects.filter(active=True).order_by("name"):
        wanted = {r.strip().upper() for r in t.reasons.split(",") if r.strip()}
        if not wanted or reason.upper() in wanted:
            found.append((t.name, t.body))
    found.append((DEFAULT_NAME, DEFAULT_TEMPLATE))
    return found


def _check(actor: User | None, claim: Claim, perm: str) -> None:
    if actor is not None and not (
        actor.has_perm(perm) and actor.has_perm(workflow.CHANGE) and claim.patient.care_team_id in panel_ids(actor)
    ):
        raise NotPermitted("You cannot appeal this claim.")


@transaction.atomic
def draft_appeal(
    claim: Claim,
    *,
    actor: User | None,
    denial: Denial | None = None,
    template: str = "",
    now: datetime | None = None,
) -> tuple[Appeal, bool]:
    """The claim's appeal draft, rendered from the chosen template (the first suiting one by default).

    A claim has one draft at a time: asking again returns the draft being written (created False).
    """
    claim = workflow.lock(claim)
    _check(actor, claim, ADD)
    if claim.status not in APPEALABLE:
        raise ActionRefused(
            f"This claim is {claim.get_status_display().lower()}: only a denied or partially paid claim is appealed."
        )
    if denial is not None and denial.claim_id != claim.pk:
        raise ActionRefused("That denial is of another claim.", status_code=400)
    existing = Appeal.objects.filter(claim=claim, status=Appeal.Status.DRAFT).first()
    if existing is not None:
        return existing, False
    choices = template_choices(denial)
    name, body = next(((n, b) for n, b in choices if n == template), choices[0]) if template else choices[0]
    if template and name != template:
        raise ActionRefused(f"No active appeal template is called “{template}”.", status_code=400)
    letter = render(body, facts(claim, denial, now=now))
    try:
        with transaction.atomic():
            appeal = Appeal.objects.create(
                claim=claim, denial=denial, template_name=name, letter=letter, created_by=actor
            )
    except IntegrityError:
        return Appeal.objects.get(claim=claim, status=Appeal.Status.DRAFT), False
    return appeal, True


def _locked_draft(appeal: Appeal, actor: User | None) -> Appeal:
    appeal = Appeal.objects.select_for_update(of=("self",)).select_related("claim__patient").get(pk=appeal.pk)
    _check(actor, appeal.claim, CHANGE)
    if appeal.status != Appeal.Status.DRAFT:
        raise ActionRefused("This appeal was sent; its letter is kept as sent.")
    return appeal


@transaction.atomic
def save_letter(appeal: Appeal, letter: str, *, actor: User | None) -> Appeal:
    appeal = _locked_draft(appeal, actor)
    letter = (letter or "").strip()
    if len(letter) < 40:
        raise ActionRefused("The letter is too short to send to a payer.", status_code=400)
    if len(letter) > 20000:
        raise ActionRefused("The letter is too long (20,000 characters at most).", status_code=400)
    appeal.letter = letter + "\n"
    appeal.save(update_fields=["letter", "updated_at"])
    return appeal


@transaction.atomic
def send_appeal(
    appeal: Appeal, *, actor: User | None, letter: str | None = None, now: datetime | None = None
) -> Appeal:
    """Keep the letter as sent and move the claim to appealed (its open denials are resolved)."""
    if letter is not None:
        appeal = save_letter(appeal, letter, actor=actor)
    appeal = _locked_draft(appeal, actor)
    workflow.appeal(appeal.claim, actor=actor, note=f"Appeal letter sent ({appeal.template_name}).")
    appeal.status = Appeal.Status.SENT
    appeal.sent_at = now or timezone.now()
    appeal.sent_by = actor
    appeal.save(update_fields=["status", "sent_at", "sent_by", "updated_at"])
    return appeal
