from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _auditors_view_everything(sender, using="default", **kwargs) -> None:
    """The read-only auditor views every model, including those added after its migration: after
    each migrate the Auditors group gets every view permission (and only view permissions)."""
    from django.contrib.auth.models import Group, Permission

    from withdrawals_site.roles import AUDITORS

    group = Group.objects.using(using).filter(name=AUDITORS).first()
    if group is not None:
        group.permissions.add(*Permission.objects.using(using).filter(codename__startswith="view_"))


def _wire_apps_of_one_floor() -> None:
    """Apps on one floor never import each other; what one reads of another is handed over here,
    on the floor above both: P2P payment methods are the fiat app's active bank accounts."""
    from fiat.selectors import bank_accounts_active_for
    from p2p.payment_methods import bank_accounts_source_set

    bank_accounts_source_set(bank_accounts_active_for)


class WithdrawalsSiteConfig(AppConfig):
    name = "withdrawals_site"
    verbose_name = "Console"

    def ready(self) -> None:
        from django.core import checks

        from events.kinds import event_kind_register
        from withdrawals_site.preflight import superuser_check

        event_kind_register("alert.opened", "Something needs a human (desk alert: approval past its SLA, stuck "
                                            "transaction, nonce gap, fee reserve below cover, reconciliation "
                                            "difference); once per alert while it lasts.")
        event_kind_register("alert.resolved", "A desk alert is over (its condition is gone).")
        checks.register(superuser_check, checks.Tags.security, deploy=True)
        from withdrawals_site.metrics import metrics_connect

        metrics_connect()  # task and webhook counters (withdrawals_site/metrics.py)
        _wire_apps_of_one_floor()
        # After every app's permissions exist: connected for the last app's signal too.
        post_migrate.connect(_auditors_view_everything, dispatch_uid="withdrawals_site.auditors")
