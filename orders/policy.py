"""Who may do what in orders: merged into vma.access.ROLE_PERMISSIONS and API_SCOPES.

Plain data (imports nothing but roles), so vma.access can load it at import time.

- Clinical-support VMAs and nurses pend orders during the visit (lab, imaging, prescription,
  referral, follow-up), edit a pended or returned one and re-pend it, and cancel one that was not
  signed. They never sign: "a VMA never approves a prescription" (DOMAIN.md).
- Providers read orders and sign or return them; they do not pend (the one who signs is not the
  one who entered it). Signing is further limited to orders whose `provider` is them.
- Front office, billing and the manager see no orders (follow-up booking reaches the front office
  as a work item; the manager sees patients only through a care team anyway).
- The administrator may view and delete a provider's authenticator (a lost phone), never its secret.
"""

from vma.roles import Role

VIEW = "orders.view_order"
PEND = "orders.add_order"
CHANGE = "orders.change_order"
CANCEL = "orders.cancel_order"
SIGN = "orders.sign_order"

_PEND_WORK = {VIEW, PEND, CHANGE, CANCEL}

ROLE_PERMISSIONS: dict[str, set[str]] = {
    Role.CLINICAL_SUPPORT: set(_PEND_WORK),
    Role.NURSE: set(_PEND_WORK),
    Role.PROVIDER: {VIEW, SIGN},
    Role.ADMIN: {"orders.view_secondfactordevice", "orders.delete_secondfactordevice"},
}

API_SCOPES: dict[str, str] = {
    "orders:read": "Read orders of the account's patients and their FHIR R4 export",
    "orders:write": "Pend, edit and cancel orders",
    "orders:sign": "Read the signing queue; sign or return orders, notes and refills in a batch",
}
