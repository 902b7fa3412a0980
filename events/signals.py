"""Signals of the outbox, for the top floor's metrics (withdrawals_site/metrics.py) to count.

``webhook_attempted`` after each delivery attempt: ``subscription`` (name), ``outcome``
(``delivered`` | ``retry`` | ``failed``), ``status_code`` (None: no HTTP answer), ``duration`` (s).
"""

from django.dispatch import Signal

webhook_attempted = Signal()
