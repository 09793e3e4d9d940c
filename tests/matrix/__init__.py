"""Per-app parts of the role × endpoint matrix (tests/test_permission_matrix.py merges them).

Each module (one per app, owned by that app) defines ENDPOINTS, BODY_REFERENCES and
ROUTER_ALIASES with the same meaning as in the main file; builders take (practice, user, own).
"""

APP_MODULES = ["encounters", "orders", "refills", "referrals", "telehealth", "billing_revenue"]
