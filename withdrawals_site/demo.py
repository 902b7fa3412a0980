"""The demo logins ``manage.py seed_demo`` creates and ``manage.py runconsole`` prints.

Demo only: these users exist when seed_demo ran, never in production.
"""

DEMO_PASSWORD = "demo-pass-123"

# (role, username, password)
DEMO_LOGINS: list[tuple[str, str, str]] = [
    ("operations (maker)", "ops1", DEMO_PASSWORD),
    ("operations (checker)", "ops2", DEMO_PASSWORD),
    ("compliance", "compliance1", DEMO_PASSWORD),
    ("treasury", "treasury1", DEMO_PASSWORD),
    ("administrator (superuser)", "admin", DEMO_PASSWORD),
    ("App customer", "alice", DEMO_PASSWORD),
    ("App customer", "bob", DEMO_PASSWORD),
]
