"""The demo logins ``manage.py seed_demo`` creates and ``manage.py runconsole`` prints.

Demo only: these users exist when seed_demo ran, never in production. ``admin`` is the demo's
superuser: it opens every page but decides no work order (the approvals engine refuses anyone
outside the step's group); a production install has no active superuser (preflight warns).
"""

DEMO_PASSWORD = "demo-pass-123"

# (role key of withdrawals_site/roles.py, username): two members in every group that decides.
DEMO_STAFF_ROLES: list[tuple[str, str]] = [
    ("ops_maker", "ops1"),
    ("ops_checker", "ops2"),
    ("ops_checker", "ops3"),
    ("compliance", "compliance1"),
    ("compliance", "compliance2"),
    ("treasury", "treasury1"),
    ("treasury", "treasury2"),
    ("config_admin", "config1"),
    ("auditor", "auditor1"),
]

# (role, username, password)
DEMO_LOGINS: list[tuple[str, str, str]] = [
    ("operations (maker)", "ops1", DEMO_PASSWORD),
    ("operations (checker)", "ops2", DEMO_PASSWORD),
    ("operations (checker)", "ops3", DEMO_PASSWORD),
    ("compliance", "compliance1", DEMO_PASSWORD),
    ("compliance", "compliance2", DEMO_PASSWORD),
    ("treasury", "treasury1", DEMO_PASSWORD),
    ("treasury", "treasury2", DEMO_PASSWORD),
    ("configuration admin", "config1", DEMO_PASSWORD),
    ("read-only auditor", "auditor1", DEMO_PASSWORD),
    ("demo-only superuser", "admin", DEMO_PASSWORD),
    ("App customer", "alice", DEMO_PASSWORD),
    ("App customer", "bob", DEMO_PASSWORD),
]
