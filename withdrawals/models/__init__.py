from withdrawals.models.addresses import AddressChallenge, AddressStatusChange, CustomerAddress  # noqa: F401
from withdrawals.models.orders import (  # noqa: F401
    IdempotencyRecord,
    WithdrawalOrder,
    WithdrawalStatusChange,
    WithdrawalTransaction,
)
from withdrawals.models.otp import TotpDevice  # noqa: F401
