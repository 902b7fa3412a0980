from django.apps import AppConfig


class WithdrawalsConfig(AppConfig):
    name = "withdrawals"

    def ready(self) -> None:
        from chains.signals import coin_in_use_checks, sending_resumed
        from core.customer_otp import CustomerOtp, customer_otp_register
        from withdrawals import approval_handlers  # noqa: F401 - registers this app's work-order handlers
        from withdrawals.selectors.coins import coin_unfinished_orders
        from withdrawals.services.otp import WrongOtp, totp_failure_record, totp_verify
        from withdrawals.tasks import requeue_approved

        # Apps beside this one (p2p, fiat) check a customer's code through core.customer_otp.
        customer_otp_register(CustomerOtp(verify=totp_verify, wrong=WrongOtp, failure_record=totp_failure_record))

        if coin_unfinished_orders not in coin_in_use_checks:
            coin_in_use_checks.append(coin_unfinished_orders)

        def requeue_waiting(sender, network_code=None, **kwargs):
            requeue_approved.delay(network_code=network_code, older_than=0)

        sending_resumed.connect(requeue_waiting, dispatch_uid="withdrawals.requeue_on_resume", weak=False)
