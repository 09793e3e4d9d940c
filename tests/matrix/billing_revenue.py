"""Matrix entries for billing's remittances, denials, appeals, balances, statements and dashboards.

835 files are the practice's (one payment spans care teams), so their pages are not object-scoped;
denials, appeals, accounts and statements hang off a patient and are.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.urls import reverse

from .base import Case, Entries

REMIT_VIEW, REMIT_ADD, REMIT_CHANGE = (f"billing.{v}_remittancefile" for v in ("view", "add", "change"))
DENIAL_VIEW, DENIAL_CHANGE = "billing.view_denial", "billing.change_denial"
APPEAL_VIEW, APPEAL_ADD, APPEAL_CHANGE = (f"billing.{v}_appeal" for v in ("view", "add", "change"))
BALANCE_VIEW, PAYMENT_ADD = "billing.view_patientbalance", "billing.add_patientpayment"
STATEMENT_VIEW, STATEMENT_RUN = "billing.view_statement", "billing.add_statementrun"
DASHBOARD = "billing.view_revenue_dashboard"
LETTER = "Dear payer,\nPlease reconsider the claim: the records enclosed show the service was necessary.\n"


def _on_team(p: Any, u: Any) -> None:
    """The manager sees patients only on a care team: put them on the practice's for object cases."""
    from vma.access import add_to_care_team
    from vma.roles import Role

    if Role.MANAGER in u.role_names:
        add_to_care_team(u, p.team)


def _paid_claim(p: Any, u: Any, own: bool) -> Any:
    """An accepted claim, paid by an 835 with coinsurance: the patient owes 20.00."""
    from billing import remittance
    from billing.tests.factories import at_payer, file_835, paid_in_full

    _on_team(p, u)
    claim = at_payer(p, own=own)
    remittance.import_835(
        file_835([paid_in_full(claim)], payer=claim.payer, trace=f"P{claim.pk}", icn=claim.pk), source="api"
    )
    claim.refresh_from_db()
    return claim


def _denial(p: Any, u: Any, own: bool) -> Any:
    from billing import remittance
    from billing.models import Denial
    from billing.tests.factories import answer, at_payer, file_835
    from billing.x12.x835_build import Cas, LineAnswer

    _on_team(p, u)
    claim = at_payer(p, own=own)
    lines = [
        LineAnswer(ln.procedure_code, ln.charge, Decimal(0), adjustments=[Cas("CO", "50", ln.charge)])
        for ln in claim.lines.all()
    ]
    text = file_835(
        [answer(claim, lines=lines, status_code="4")], payer=claim.payer, trace=f"D{claim.pk}", icn=claim.pk
    )
    remittance.import_835(text, source="api")
    return Denial.objects.get(claim=claim)


def _appeal(p: Any, u: Any, own: bool) -> Any:
    from billing import appeals

    denial = _denial(p, u, own)
    return appeals.draft_appeal(denial.claim, actor=None, denial=denial)[0]


def _statement(p: Any, u: Any, own: bool) -> Any:
    from billing import ledger
    from billing.models import Statement

    claim = _paid_claim(p, u, own)
    run, _ = ledger.run_statements()
    return Statement.objects.get(run=run, patient=claim.patient)


def _invalid_file(p: Any, u: Any) -> Any:
    """A readable 835 pyx12 refuses (ST03 on an 835): waiting for a person to post it anyway."""
    from billing import remittance
    from billing.tests.factories import at_payer, file_835, paid_in_full

    claim = at_payer(p)
    text = file_835([paid_in_full(claim)], payer=claim.payer, trace=f"I{claim.pk}", icn=claim.pk)
    return remittance.import_835(text.replace("ST*835*0001~", "ST*835*0001*005010X221A1~"), source="api").file


def _unmatched(p: Any, u: Any, own: bool) -> Case:
    """An 835 claim no claim matches, and a claim (own team or not) to post it to."""
    from billing import remittance
    from billing.models import RemittanceClaim
    from billing.tests.factories import at_payer, file_835, paid_in_full

    _on_team(p, u)
    claim = at_payer(p, own=own)
    ans = paid_in_full(claim)
    ans.patient_control_number = f"VX{claim.pk}"
    file = remittance.import_835(
        file_835([ans], payer=claim.payer, trace=f"U{claim.pk}", icn=claim.pk), source="api"
    ).file
    row = RemittanceClaim.objects.get(remittance__file=file)
    return Case(
        "post",
        reverse("api-remittance-match", args=[file.public_id]),
        {"row": str(row.public_id), "claim": str(claim.public_id)},
        json=True,
    )


def _new_835(p: Any, u: Any) -> str:
    from billing.tests.factories import at_payer, file_835, paid_in_full

    claim = at_payer(p)
    return file_835([paid_in_full(claim)], payer=claim.payer, trace=f"N{claim.pk}", icn=claim.pk)


def _upload(p: Any, u: Any, own: bool) -> Case:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return Case(
        "post", reverse("billing_remittance_upload"), {"file": SimpleUploadedFile("m.835", _new_835(p, u).encode())}
    )


ENDPOINTS: Entries = {
    "billing_remittances": (REMIT_VIEW, False, [lambda p, u, o: Case("get", reverse("billing_remittances"))]),
    "billing_remittance_upload": (REMIT_ADD, False, [_upload]),
    "billing_remittance_detail": (
        REMIT_VIEW,
        False,
        [lambda p, u, o: Case("get", reverse("billing_remittance_detail", args=[_invalid_file(p, u).public_id]))],
    ),
    "billing_remittance_action": (
        REMIT_CHANGE,
        False,
        [
            lambda p, u, o: Case(
                "post", reverse("billing_remittance_action", args=[_invalid_file(p, u).public_id, "post_anyway"])
            )
        ],
    ),
    "billing_denials": (DENIAL_VIEW, False, [lambda p, u, o: Case("get", reverse("billing_denials") + "?status=all")]),
    "billing_denial_action": (
        DENIAL_CHANGE,
        True,
        [
            lambda p, u, o: Case(
                "post",
                reverse("billing_denial_action", args=[_denial(p, u, o).public_id, "write_off"]),
                {"reason": "Not worth appealing"},
            ),
            lambda p, u, o: Case("post", reverse("billing_denial_action", args=[_denial(p, u, o).public_id, "appeal"])),
        ],
    ),
    "billing_appeal": (
        APPEAL_VIEW,
        True,
        [lambda p, u, o: Case("get", reverse("billing_appeal", args=[_appeal(p, u, o).public_id]))],
    ),
    "billing_appeal_action": (
        APPEAL_CHANGE,
        True,
        [
            lambda p, u, o: Case(
                "post", reverse("billing_appeal_action", args=[_appeal(p, u, o).public_id, "save"]), {"letter": LETTER}
            )
        ],
    ),
    "billing_balances": (BALANCE_VIEW, False, [lambda p, u, o: Case("get", reverse("billing_balances"))]),
    "billing_patient_account": (
        BALANCE_VIEW,
        True,
        [
            lambda p, u, o: Case(
                "get", reverse("billing_patient_account", args=[_paid_claim(p, u, o).patient.public_id])
            )
        ],
    ),
    "billing_patient_payment": (
        PAYMENT_ADD,
        True,
        [
            lambda p, u, o: Case(
                "post",
                reverse("billing_patient_payment", args=[_paid_claim(p, u, o).patient.public_id]),
                {"amount": "10.00", "method": "cash"},
            )
        ],
    ),
    "billing_statement_runs": (STATEMENT_VIEW, False, [lambda p, u, o: Case("get", reverse("billing_statement_runs"))]),
    "billing_statement_run": (STATEMENT_RUN, False, [lambda p, u, o: Case("post", reverse("billing_statement_run"))]),
    "billing_statement": (
        STATEMENT_VIEW,
        True,
        [lambda p, u, o: Case("get", reverse("billing_statement", args=[_statement(p, u, o).public_id]))],
    ),
    "billing_ar_dashboard": (DASHBOARD, False, [lambda p, u, o: Case("get", reverse("billing_ar_dashboard"))]),
    "billing_denial_dashboard": (DASHBOARD, False, [lambda p, u, o: Case("get", reverse("billing_denial_dashboard"))]),
    "billing_dashboard_csv": (
        DASHBOARD,
        False,
        [lambda p, u, o: Case("get", reverse("billing_dashboard_csv", args=["ar_aging"]))],
    ),
    "api-remittance-list": (REMIT_VIEW, False, [lambda p, u, o: Case("get", reverse("api-remittance-list"))]),
    "api-remittance-create": (
        REMIT_ADD,
        False,
        [lambda p, u, o: Case("post", reverse("api-remittance-list"), {"content": _new_835(p, u)}, json=True)],
    ),
    "api-remittance-detail": (
        REMIT_VIEW,
        False,
        [lambda p, u, o: Case("get", reverse("api-remittance-detail", args=[_invalid_file(p, u).public_id]))],
    ),
    "api-remittance-post": (
        REMIT_CHANGE,
        False,
        [
            lambda p, u, o: Case(
                "post", reverse("api-remittance-post", args=[_invalid_file(p, u).public_id]), {}, json=True
            )
        ],
    ),
    "api-remittance-match": (REMIT_CHANGE, True, [_unmatched]),
    "api-denial-list": (DENIAL_VIEW, False, [lambda p, u, o: Case("get", reverse("api-denial-list"))]),
    "api-denial-detail": (
        DENIAL_VIEW,
        True,
        [lambda p, u, o: Case("get", reverse("api-denial-detail", args=[_denial(p, u, o).public_id]))],
    ),
    "api-denial-write-off": (
        DENIAL_CHANGE,
        True,
        [
            lambda p, u, o: Case(
                "post",
                reverse("api-denial-write-off", args=[_denial(p, u, o).public_id]),
                {"reason": "Small balance"},
                json=True,
            )
        ],
    ),
    "api-appeal-list": (APPEAL_VIEW, False, [lambda p, u, o: Case("get", reverse("api-appeal-list"))]),
    "api-appeal-create": (
        APPEAL_ADD,
        True,
        [
            lambda p, u, o: Case(
                "post", reverse("api-appeal-list"), {"denial": str(_denial(p, u, o).public_id)}, json=True
            )
        ],
    ),
    "api-appeal-detail": (
        APPEAL_VIEW,
        True,
        [lambda p, u, o: Case("get", reverse("api-appeal-detail", args=[_appeal(p, u, o).public_id]))],
    ),
    "api-appeal-update": (
        APPEAL_CHANGE,
        True,
        [
            lambda p, u, o: Case(
                "patch", reverse("api-appeal-detail", args=[_appeal(p, u, o).public_id]), {"letter": LETTER}, json=True
            )
        ],
    ),
    "api-appeal-send": (
        APPEAL_CHANGE,
        True,
        [lambda p, u, o: Case("post", reverse("api-appeal-send", args=[_appeal(p, u, o).public_id]), {}, json=True)],
    ),
    "api-patientbalance-list": (BALANCE_VIEW, False, [lambda p, u, o: Case("get", reverse("api-patientbalance-list"))]),
    "api-patientbalance-detail": (
        BALANCE_VIEW,
        True,
        [
            lambda p, u, o: Case(
                "get", reverse("api-patientbalance-detail", args=[_paid_claim(p, u, o).patient.public_id])
            )
        ],
    ),
    "api-patientbalance-payments": (
        PAYMENT_ADD,
        True,
        [
            lambda p, u, o: Case(
                "post",
                reverse("api-patientbalance-payments", args=[_paid_claim(p, u, o).patient.public_id]),
                {"amount": "5.00", "method": "card"},
                json=True,
            )
        ],
    ),
    "api-statement-list": (STATEMENT_VIEW, False, [lambda p, u, o: Case("get", reverse("api-statement-list"))]),
    "api-statement-detail": (
        STATEMENT_VIEW,
        True,
        [lambda p, u, o: Case("get", reverse("api-statement-detail", args=[_statement(p, u, o).public_id]))],
    ),
    "api-revenue-ar": (DASHBOARD, False, [lambda p, u, o: Case("get", reverse("api-revenue-ar"))]),
    "api-revenue-denials": (DASHBOARD, False, [lambda p, u, o: Case("get", reverse("api-revenue-denials"))]),
}
BODY_REFERENCES: dict[str, dict[str, list[str]]] = {
    "api-remittance-match": {"claim": ["No such claim."]},
    "api-appeal-create": {"denial": ["No such denial."]},
}
ROUTER_ALIASES: dict[str, list[str]] = {
    "api-remittance-list": ["api-remittance-list", "api-remittance-create"],
    "api-appeal-list": ["api-appeal-list", "api-appeal-create"],
    "api-appeal-detail": ["api-appeal-detail", "api-appeal-update"],
}
