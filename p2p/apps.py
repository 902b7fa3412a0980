from django.apps import AppConfig


class P2PConfig(AppConfig):
    name = "p2p"
    verbose_name = "P2P cash-out"

    def ready(self) -> None:
        from p2p import approval_handlers  # noqa: F401 - registers atm.p2p.appeal
