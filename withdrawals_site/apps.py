from django.apps import AppConfig


class WithdrawalsSiteConfig(AppConfig):
    name = "withdrawals_site"
    verbose_name = "Console"
