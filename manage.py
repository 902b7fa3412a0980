#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "withdrawals_site.settings")
    try:
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
    except Exception as exc:  # a bad configuration gets one clear line, not a stack trace
        explain_startup_error(exc)
        raise


def explain_startup_error(exc: Exception) -> None:
    """Exit with a clear message when ``exc`` comes from the configuration; return otherwise."""
    from core.embedded import EmbeddedServiceError

    if isinstance(exc, EmbeddedServiceError):
        sys.stderr.write(f"Configuration error: {exc}\n")
        raise SystemExit(2)
    if isinstance(exc, ValueError) and "DATABASE_URL" in os.environ and "database" in str(exc).lower():
        sys.stderr.write(f"Configuration error: DATABASE_URL is not a usable PostgreSQL URL ({exc}).\n")
        raise SystemExit(2)
    from django.db.utils import OperationalError

    if isinstance(exc, OperationalError):
        from withdrawals_site.preflight import preflight_or_exit

        preflight_or_exit(chains=False)  # names the unreachable service and exits, if that is the cause


if __name__ == "__main__":
    main()
