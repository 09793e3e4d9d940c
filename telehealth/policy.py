"""Who may do what in telehealth: merged into vma.access.ROLE_PERMISSIONS and API_SCOPES.

Plain data (imports nothing but roles), so vma.access can load it at import time.

- Everyone who works a visit sees the day's waiting room (their care teams' patients only).
- The front office sends and resends join links and calls patients who do not join (the
  `telehealth.no_join` work item is theirs); it does not room patients.
- Clinical support and nurses room: join first, run the rooming checklist, hand off.
- Providers join and end their own visits and read their own waiting-time figures.
- The manager reads every provider's figures (numbers only, no patient data), not the rooms.
"""

from vma.roles import Role

VIEW = "telehealth.view_visitroom"
INVITE = "telehealth.invite_visitroom"
ROOM = "telehealth.room_visitroom"
HOST = "telehealth.host_visitroom"
METRICS = "telehealth.view_telehealth_metrics"

ROLE_PERMISSIONS: dict[str, set[str]] = {
    Role.FRONT_OFFICE: {VIEW, INVITE},
    Role.CLINICAL_SUPPORT: {VIEW, INVITE, ROOM},
    Role.NURSE: {VIEW, INVITE, ROOM},
    Role.PROVIDER: {VIEW, HOST, METRICS},
    Role.MANAGER: {METRICS},
}
API_SCOPES: dict[str, str] = {
    "telehealth:read": "Read the video waiting room: visits of a day, their status and steps",
    "telehealth:write": "Act in the video waiting room: send links, room, hand off, join and end visits",
}
