"""Minimum-necessary access: the role table, and the one choke point for patient scope.

Two checks, both required, both failing closed:
1. the role may do this kind of thing at all (model permissions granted to the role's group,
   from ROLE_PERMISSIONS below, synced on every migrate);
2. the object belongs to a care team the user was granted `vma.access_panel` on through
   django-guardian. Missing and not-yours answer the same: 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.http import Http404
from guardian.shortcuts import assign_perm, remove_perm

from .roles import Role

if TYPE_CHECKING:
    from patients.models import Patient

    from .models import CareTeam, User

# What each role may read and do. Patient scope (which patients) comes from care teams.
_VMA_COMMON = {
    "patients.view_patient",
    "patients.view_coverage",
    "vma.view_workitem",
    "vma.work_workitem",
}
# Requesting and working prior authorizations (front office, clinical support).
_PRIOR_AUTH_WORK = {
    "eligibility.view_priorauthorization",
    "eligibility.add_priorauthorization",
    "eligibility.change_priorauthorization",
}
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    # Registration, scheduling, insurance: demographics and coverage, documents to index.
    Role.FRONT_OFFICE: frozenset(
        _VMA_COMMON
        | {
            "patients.add_patient",
            "patients.change_patient",
            "patients.add_coverage",
            "patients.change_coverage",
            "patients.add_chartdocument",
            *_PRIOR_AUTH_WORK,
            "scheduling.view_appointment",
            "scheduling.add_appointment",
            "scheduling.change_appointment",
        }
    ),
    # Claims and coverage, no clinical documents.
    Role.BILLING: frozenset(_VMA_COMMON | {"patients.change_coverage", "eligibility.view_priorauthorization"}),
    # Chart preparation: clinical documents, no coverage changes.
    Role.CLINICAL_SUPPORT: frozenset(
        _VMA_COMMON
        | {"patients.view_chartdocument", "patients.add_chartdocument", *_PRIOR_AUTH_WORK}
        | {"scheduling.view_appointment"}
    ),
    Role.NURSE: frozenset(
        _VMA_COMMON
        | {"patients.view_chartdocument", "patients.add_chartdocument", "eligibility.view_priorauthorization"}
        | {"scheduling.view_appointment"}
    ),
    Role.PROVIDER: frozenset(
        _VMA_COMMON
        | {"patients.view_chartdocument", "eligibility.view_priorauthorization"}
        | {"scheduling.view_appointment"}
    ),
    # Dashboards, the audit trail, reassigning work: no charts unless put on a care team.
    # Prior-auth rules are practice data the manager keeps (in admin).
    Role.MANAGER: frozenset(
        {
            "vma.view_queue_health",
            "vma.view_auditevent",
            "vma.reassign_workitem",
            "eligibility.view_priorauthrule",
            "eligibility.add_priorauthrule",
            "eligibility.change_priorauthrule",
        }
    ),
    # Accounts and API tokens; no patient data.
    Role.ADMIN: frozenset(
        {
            "vma.view_user",
            "vma.add_user",
            "vma.change_user",
            "vma.view_careteam",
            "vma.add_careteam",
            "vma.change_careteam",
            "vma.view_apitoken",
            "vma.add_apitoken",
            "vma.change_apitoken",
            "patients.view_payer",
            "patients.add_payer",
            "patients.change_payer",
            "django_celery_beat.view_periodictask",
            "django_celery_beat.change_periodictask",
        }
    ),
}

# Digital intake (kept together so the app's whole policy reads in one place): clinical roles and
# the front office read packets and scores; the front office confirms the updates a packet proposes;
# the manager keeps the forms and the per-visit-type rules (in admin).
_INTAKE_READ = {"intake.view_intakepacket", "intake.view_questionnaire"}
for _role, _intake_perms in {
    Role.FRONT_OFFICE: _INTAKE_READ | {"intake.review_intakepacket"},
    Role.CLINICAL_SUPPORT: _INTAKE_READ,
    Role.NURSE: _INTAKE_READ,
    Role.PROVIDER: _INTAKE_READ,
    Role.MANAGER: {
        "intake.view_questionnaire",
        "intake.add_questionnaire",
        "intake.change_questionnaire",
        "intake.view_intakerule",
        "intake.add_intakerule",
        "intake.change_intakerule",
    },
}.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | frozenset(_intake_perms)

# Chart scrub and huddle sheet (huddle/): the front office and clinical support work scrubs (the
# scrub work item sits in clinical support's queue: chart preparation); nurses and providers read
# the sheet, and so does the manager (who sees patients only when put on a care team).
_HUDDLE_WORK = {"huddle.view_huddle_sheet", "huddle.view_chartscrub", "huddle.work_chartscrub"}
for _role, _huddle_perms in {
    Role.FRONT_OFFICE: _HUDDLE_WORK,
    Role.CLINICAL_SUPPORT: _HUDDLE_WORK,
    Role.NURSE: {"huddle.view_huddle_sheet"},
    Role.PROVIDER: {"huddle.view_huddle_sheet"},
    Role.MANAGER: {"huddle.view_huddle_sheet"},
}.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | frozenset(_huddle_perms)

# Chart history, outstanding results and documents (patients/): clinical roles read history and
# results; clinical support abstracts closing evidence (procedures, immunizations) from outside
# records, matches and refiles documents and files what partners posted unmatched; nurses and
# providers keep the problem list, medications and allergies. The manager keeps the care-gap rules
# and standing-order protocols (in admin). Front office and billing see no clinical history.
_HISTORY_READ = {
    f"patients.view_{m}" for m in ("problem", "medication", "allergy", "immunization", "procedure", "expectedresult")
}
_EVIDENCE_WRITE = {"patients.add_procedure", "patients.add_immunization"}
_RESULTS_WORK = {"patients.add_expectedresult", "patients.change_expectedresult"}
_DOCS_FIX = {"patients.change_chartdocument", "patients.view_unmatcheddocument", "patients.change_unmatcheddocument"}
_CHART_KEEP = {
    "patients.add_problem",
    "patients.change_problem",
    "patients.add_medication",
    "patients.change_medication",
    "patients.add_allergy",
}
for _role, _chart_perms in {
    Role.CLINICAL_SUPPORT: _HISTORY_READ | _EVIDENCE_WRITE | _RESULTS_WORK | _DOCS_FIX,
    Role.NURSE: _HISTORY_READ | _EVIDENCE_WRITE | _RESULTS_WORK | _DOCS_FIX | _CHART_KEEP,
    Role.PROVIDER: _HISTORY_READ | _EVIDENCE_WRITE | {"patients.add_expectedresult"} | _CHART_KEEP,
    Role.MANAGER: {
        f"patients.{verb}_{m}" for verb in ("view", "add", "change") for m in ("caregaprule", "standingorderprotocol")
    },
}.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | frozenset(_chart_perms)

# Charges and claims (billing/): the billing VMA and the manager enter charges, scrub, submit, void and
# correct claims and keep the practice's codes, payer profiles and fee schedules; the front office and
# clinical roles have none of it. Claims carry codes, not notes: a billing VMA still reads no chart.
_BILLING_WORK = {
    "billing.view_claim",
    "billing.add_claim",
    "billing.change_claim",
    "billing.scrub_claim",
    "billing.submit_claim",
    "billing.void_claim",
    "billing.view_procedurecode",
    "billing.view_payerbillingprofile",
    "billing.view_feescheduleline",
}
_BILLING_DATA = {
    "billing.add_procedurecode",
    "billing.change_procedurecode",
    "billing.add_payerbillingprofile",
    "billing.change_payerbillingprofile",
    "billing.add_feescheduleline",
    "billing.change_feescheduleline",
}
for _role, _billing_perms in {Role.BILLING: _BILLING_WORK, Role.MANAGER: _BILLING_WORK | _BILLING_DATA}.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | frozenset(_billing_perms)

# Scopes an API token may carry, and the model permissions each scope stands for. A token can
# never do more than its account's roles allow: both must pass.
API_SCOPES: dict[str, str] = {
    "patients:read": "Read patients in the account's care teams",
    "patients:write": "Create and update patients",
    "coverage:read": "Read coverage",
    "coverage:write": "Create and update coverage",
    "workitems:read": "Read work items",
    "workitems:write": "Act on work items",
    "priorauth:read": "Read prior authorizations",
    "priorauth:write": "Request prior authorizations and record the payer's answers",
    "appointments:read": "Read appointments and free slots",
    "appointments:write": "Book, reschedule, confirm and cancel appointments",
    "intake:read": "Read intake questionnaires, packets and answers",
    "intake:write": "Mark intake packets reviewed",
    "documents:read": "Read chart documents and download them",
    "documents:write": "Upload chart documents; partners post results by MRN and date of birth",
    "history:read": "Read problems, medications, allergies, immunizations, procedures, care gaps and "
    "expected (outstanding) results",
    "history:write": "Record procedures and immunizations (care-gap evidence); match or cancel expected results",
    "huddle:read": "Read huddle sheets and chart scrubs",
    "huddle:write": "Mark chart-scrub items and charts scrubbed",
    "claims:read": "Read claims, their charges and scrub results",
    "claims:write": "Draft claims from visits, edit charges, scrub, submit, void and correct claims",
}

# Apps that keep their policy next to their code (`<app>/policy.py`, plain data).
POLICY_APPS = ("billing", "encounters", "orders", "refills", "referrals", "telehealth")


def _merge_app_policies() -> None:
    import importlib

    for app in POLICY_APPS:
        policy = importlib.import_module(f"{app}.policy")
        for role, perms in policy.ROLE_PERMISSIONS.items():
            ROLE_PERMISSIONS[role] = ROLE_PERMISSIONS[role] | frozenset(perms)
        clash = set(policy.API_SCOPES) & set(API_SCOPES)
        if clash:
            raise RuntimeError(f"{app}.policy redefines API scopes {sorted(clash)}")
        API_SCOPES.update(policy.API_SCOPES)


_merge_app_policies()


def sync_role_groups(**_: Any) -> None:
    """Create the role groups and set their permissions exactly to ROLE_PERMISSIONS."""
    from django.contrib.auth.models import Group, Permission

    for role, perms in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        wanted = []
        for perm in sorted(perms):
            app_label, codename = perm.split(".")
            found = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if found is None:
                # A permission of an app not migrated yet; the next post_migrate adds it.
                continue
            wanted.append(found)
        group.permissions.set(wanted)


def panel_ids(user: User) -> list[int]:
    """Ids of the care teams whose patients the user may see (cached on the user object)."""
    cached = getattr(user, "_panel_ids", None)
    if cached is not None:
        return cached
    from .models import CareTeamUserObjectPermission

    if not user.is_authenticated or not user.is_active:
        ids: list[int] = []
    else:
        # The guardian grant read directly (one indexed query); teams are granted per user.
        ids = sorted(
            CareTeamUserObjectPermission.objects.filter(
                user=user, permission__codename="access_panel", permission__content_type__app_label="vma"
            ).values_list("content_object_id", flat=True)
        )
    user._panel_ids = ids  # type: ignore[attr-defined]
    return ids


def accessible_patients(user: User, perm: str = "patients.view_patient") -> QuerySet[Patient]:
    """The one choke point for lists and details of patients."""
    from patients.models import Patient

    if not user.is_authenticated or not user.has_perm(perm):
        return Patient.objects.none()
    return Patient.objects.filter(care_team_id__in=panel_ids(user))


def patient_scope_q(user: User, field: str = "patient") -> Q:
    """A filter for rows that hang off a patient: `<field>__care_team_id__in` the user's panels."""
    return Q(**{f"{field}__care_team_id__in": panel_ids(user)})


def can_access_patient(user: User, patient: Patient, perm: str = "patients.view_patient") -> bool:
    return bool(user.is_authenticated and user.has_perm(perm) and patient.care_team_id in panel_ids(user))


def access_patient(user: User, public_id: Any, perm: str = "patients.view_patient") -> Patient:
    """Fetch a patient the user may see, or 404 (same answer for missing and not yours)."""
    from django.core.exceptions import ValidationError

    from patients.models import Patient

    try:
        return accessible_patients(user, perm).select_related("care_team").get(public_id=public_id)
    except (Patient.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such patient.") from None


def add_to_care_team(user: User, team: CareTeam) -> None:
    assign_perm("vma.access_panel", user, team)
    if hasattr(user, "_panel_ids"):
        del user._panel_ids


def remove_from_care_team(user: User, team: CareTeam) -> None:
    remove_perm("vma.access_panel", user, team)
    if hasattr(user, "_panel_ids"):
        del user._panel_ids


def care_team_members(team: CareTeam) -> QuerySet[User]:
    from .models import User

    return User.objects.filter(
        careteamuserobjectpermission__content_object=team,
        careteamuserobjectpermission__permission__codename="access_panel",
    ).distinct()
