"""The WSGI application (gunicorn ``withdrawals_site.wsgi``).

A start path: with DEBUG off and a development secret, it refuses in one ``Configuration error:``
line. The exit status is 4, gunicorn's "App failed to load", so gunicorn stops instead of
restarting the worker in a loop.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "withdrawals_site.settings")
application = get_wsgi_application()

from withdrawals_site import preflight  # noqa: E402 - after the settings are loaded

try:
    preflight.production_or_exit()
except SystemExit:
    raise SystemExit(4) from None
