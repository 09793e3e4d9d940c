"""Who may do what in referrals: merged into vma.access.ROLE_PERMISSIONS and API_SCOPES.

Plain data (imports nothing but roles), so vma.access can load it at import time.

- Clinical-support VMAs (the referral coordinators: their queue gets the follow-ups) and nurses
  create referrals, build and send packets, record what the specialist's office says, file
  faxed reports and cancel. The front office works the plan side (HMO authorizations, the
  expiry warnings) and sends packets, but sees no clinical notes (the pages hide them).
- Providers create referrals and are the only ones who review a consult report, which is what
  closes the loop.
- The dashboard: the manager reads practice-wide counts (no patient is named there) and may
  read referrals, but like every list the drill-down shows only the manager's care teams (none
  unless put on one); the others read their care teams'. The manager keeps the specialist directory and the follow-up cadence
  (admin); the administrator links a specialist to its partner account.
- A specialist's system never gets a role: its account is linked to a Specialist, and its token
  needs the `referrals:specialist` scope; it sees and answers only the referrals addressed to it.
  `referrals.respond_referral` names that in the matrix and is granted to no role.
"""

from vma.roles import Role

VIEW = "referrals.view_referral"
ADD = "referrals.add_referral"
WORK = "referrals.change_referral"
REVIEW = "referrals.review_referral"
DASHBOARD = "referrals.view_referral_dashboard"
PRACTICE_STATS = "referrals.view_practice_referral_stats"
RESPOND = "referrals.respond_referral"
VIEW_SPECIALIST = "referrals.view_specialist"
DIRECTORY_KEEP = {"referrals.add_specialist", "referrals.change_specialist", VIEW_SPECIALIST}
CADENCE_KEEP = {"referrals.view_followuprule", "referrals.change_followuprule"}

ROLE_PERMISSIONS: dict[str, set[str]] = {
    Role.FRONT_OFFICE: {VIEW, WORK, DASHBOARD, VIEW_SPECIALIST},
    Role.CLINICAL_SUPPORT: {VIEW, ADD, WORK, DASHBOARD, VIEW_SPECIALIST},
    Role.NURSE: {VIEW, ADD, WORK, DASHBOARD, VIEW_SPECIALIST},
    Role.PROVIDER: {VIEW, ADD, WORK, REVIEW, DASHBOARD, VIEW_SPECIALIST},
    Role.MANAGER: {VIEW, DASHBOARD, PRACTICE_STATS} | DIRECTORY_KEEP | CADENCE_KEEP,
    Role.ADMIN: DIRECTORY_KEEP,
}

API_SCOPES: dict[str, str] = {
    "referrals:read": "Read referrals of the account's patients, their packets and contact history",
    "referrals:write": "Create referrals, edit packets, send, record the specialist's answers and contacts, "
    "file reports, review them (providers) and cancel",
    "referrals:specialist": "A specialist's system: read the referrals addressed to it, acknowledge or decline "
    "them, give the appointment date and post the consult report",
}
