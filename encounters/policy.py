"""Who may do what in encounters: merged into vma.access.ROLE_PERMISSIONS and API_SCOPES.

Plain data (imports nothing but roles), so vma.access can load it at import time.

- The scribe is the clinical-support VMA (a nurse may scribe too): opens the visit's encounter, drafts
  the SOAP note live, codes the diagnoses and marks the note ready for signature.
- The provider edits the note as well, and is the only one who signs (their own visits only, enforced in
  encounters/signing.py), returns a note to the scribe, chooses education materials and follow-up
  words for the after visit summary, and approves the education library.
- Addenda to a signed note are written by licensed staff only (provider, nurse), each under its author's
  name; a scribe asks them.
- Delivering the after visit summary (and the follow-up call when it is not opened) is the clinical
  support VMA's work; nurses and providers may do it too.
- Front office, billing and the manager read no notes (minimum necessary): billing reads codes on claims.
"""

from vma.roles import Role

VIEW = "encounters.view_encounter"
OPEN = "encounters.add_encounter"
DRAFT = "encounters.change_encounter"
SIGN = "encounters.sign_encounter"
ADDENDUM = "encounters.add_addendum"
VIEW_AVS = "encounters.view_aftervisitsummary"
PREPARE_AVS = "encounters.prepare_aftervisitsummary"
DELIVER_AVS = "encounters.deliver_aftervisitsummary"
VIEW_LIBRARY = "encounters.view_educationmaterial"
PROPOSE_MATERIAL = "encounters.add_educationmaterial"
APPROVE_MATERIAL = "encounters.approve_educationmaterial"

_SCRIBE = {VIEW, OPEN, DRAFT, VIEW_AVS, DELIVER_AVS, VIEW_LIBRARY, PROPOSE_MATERIAL}
ROLE_PERMISSIONS: dict[str, set[str]] = {
    Role.CLINICAL_SUPPORT: _SCRIBE,
    Role.NURSE: _SCRIBE | {ADDENDUM},
    Role.PROVIDER: _SCRIBE | {SIGN, ADDENDUM, PREPARE_AVS, APPROVE_MATERIAL},
}
API_SCOPES: dict[str, str] = {
    "encounters:read": "Read encounter notes, their diagnoses and addenda, and after visit summaries",
    "encounters:write": "Draft encounter notes (fields with their version, diagnoses), mark them ready for "
    "signature, add addenda, deliver after visit summaries",
    "encounters:sign": "Sign encounter notes (providers, their own visits)",
}
