"""Who may do what in billing's remittance, denial, balance and dashboard parts (the charge and claim
permissions are in vma.access): merged into vma.access.ROLE_PERMISSIONS and API_SCOPES.

Plain data (imports nothing but roles), so vma.access can load it at import time.

- The billing VMA imports 835s, works unmatched claims and denials, drafts and sends appeals,
  records patient payments and reads balances, statements and the dashboards.
- The practice manager does all of that, keeps the appeal letter templates, and runs statements.
- The front office takes payments at the desk, so it reads balances and records payments (no
  remittances, denials or claims).
Patient scope (which patients) still comes from care teams for every one of these.
"""

from vma.roles import Role

_REMITTANCE = {
    "billing.view_remittancefile",
    "billing.add_remittancefile",
    "billing.change_remittancefile",
}
_DENIALS = {
    "billing.view_denial",
    "billing.change_denial",
    "billing.view_appeal",
    "billing.add_appeal",
    "billing.change_appeal",
    "billing.view_appealtemplate",
}
_BALANCES = {
    "billing.view_patientbalance",
    "billing.add_patientpayment",
    "billing.view_statement",
}
DASHBOARD = "billing.view_revenue_dashboard"

ROLE_PERMISSIONS: dict[str, set[str]] = {
    Role.BILLING: _REMITTANCE | _DENIALS | _BALANCES | {DASHBOARD},
    Role.MANAGER: _REMITTANCE
    | _DENIALS
    | _BALANCES
    | {DASHBOARD, "billing.add_statementrun", "billing.add_appealtemplate", "billing.change_appealtemplate"},
    Role.FRONT_OFFICE: {"billing.view_patientbalance", "billing.add_patientpayment", "billing.view_statement"},
}
API_SCOPES: dict[str, str] = {
    "remittances:read": "Read imported 835 files, their payments and how each claim was posted",
    "remittances:write": "Import 835 files and post or match their claims",
    "denials:read": "Read denials and appeal letters",
    "denials:write": "Write off denials, draft, edit and send appeal letters",
    "balances:read": "Read patients' balances, ledgers and statements",
    "balances:write": "Record patient payments",
    "revenue:read": "Read the AR and denial dashboards' figures",
}
