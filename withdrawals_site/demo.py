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
    ("config_admin", "config2"),
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
    ("configuration admin (checker)", "config2", DEMO_PASSWORD),
    ("read-only auditor", "auditor1", DEMO_PASSWORD),
    ("demo-only superuser", "admin", DEMO_PASSWORD),
    ("App customer", "alice", DEMO_PASSWORD),
    ("App customer", "bob", DEMO_PASSWORD),
]

DEMO_USERNAMES = frozenset(username for _, username, _ in DEMO_LOGINS)


def demo_database_problem(connection) -> str | None:
    """Why the database behind ``connection`` may not receive demo data, or None when it holds
    nothing but the console's own tables and the demo's users (or nothing at all).

    Read-only: it looks at the table names and the user names, so a refusal writes nothing.
    """
    from django.apps import apps

    known = set(connection.introspection.django_table_names()) | {"django_migrations"}
    # Tables the migrations create with SQL (e.g. ledger_securities_posting) carry their app's prefix.
    prefixes = tuple(f"{config.label}_" for config in apps.get_app_configs())
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_schema, table_name FROM information_schema.tables "
                       "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
                       "AND table_schema NOT LIKE 'pg_toast%%' ORDER BY 1, 2")
        tables = cursor.fetchall()
        foreign = [f"{schema}.{name}" if schema != "public" else name
                   for schema, name in tables
                   if schema != "public" or (name not in known and not name.startswith(prefixes))]
        if foreign:
            more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
            return (f"the database holds tables that are not the console's ({', '.join(foreign[:3])}{more}): "
                    "it is not a demo database")
        if ("public", "auth_user") in tables:
            cursor.execute("SELECT username FROM auth_user ORDER BY username")
            others = [name for (name,) in cursor.fetchall() if name not in DEMO_USERNAMES]
            if others:
                more = f" and {len(others) - 3} more" if len(others) > 3 else ""
                return (f"the database has users the demo did not create ({', '.join(map(repr, others[:3]))}{more}): "
                        "it is not a demo database")
    return None
