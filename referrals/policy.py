"""Who may do what in referrals: merged into vma.access.ROLE_PERMISSIONS and API_SCOPES.

Plain data (imports nothing but roles), so vma.access can load it at import time.
"""

from vma.roles import Role  # noqa: F401

ROLE_PERMISSIONS: dict[str, set[str]] = {}
API_SCOPES: dict[str, str] = {}
