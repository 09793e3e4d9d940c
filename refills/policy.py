"""Who may do what in refills: merged into vma.access.ROLE_PERMISSIONS and API_SCOPES.

Plain data (imports nothing but roles), so vma.access can load it at import time.

The front office takes refill calls and books the visits a refill waits for; clinical support works the
protocol checks, returned refills and pharmacy problems; nurses read and work requests (red flags reach
them). Only providers sign or deny, for their own patients. The manager keeps the protocols, medication
classes and red-flag terms (in admin) and reads the turnaround figures (patients only on a care team).
A pharmacy's service account is a clinical-support account on the care teams it serves whose token
carries `refills:request` and `refills:read`: it posts requests and reads only its own.
"""

from vma.roles import Role

_READ = {"refills.view_refillrequest"}
_WORK = _READ | {"refills.add_refillrequest", "refills.work_refillrequest"}
_PRACTICE_DATA = {
    f"refills.{verb}_{model}"
    for verb in ("view", "add", "change")
    for model in ("medicationclass", "refillprotocol", "redflagterm")
}

ROLE_PERMISSIONS: dict[str, set[str]] = {
    Role.FRONT_OFFICE: _WORK,
    Role.CLINICAL_SUPPORT: _WORK,
    Role.NURSE: _WORK,
    Role.PROVIDER: _READ | {"refills.sign_refillrequest"},
    Role.MANAGER: _READ | _PRACTICE_DATA,
}
API_SCOPES: dict[str, str] = {
    "refills:request": "Pharmacies: post refill requests (the account then reads only its own requests)",
    "refills:read": "Read refill requests and their protocol checks",
    "refills:write": "Run the protocol check on a refill request; providers deny refills",
}
