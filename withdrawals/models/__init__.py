from withdrawals.models.addresses import AddressChallenge, AddressStatusChange, CustomerAddress  # noqa: F401
from withdrawals.models.hot_wallets import (  # noqa: F401
    FeeReserveCoin,
    HotWalletNonce,
    HotWalletUtxo,
    HotWalletUtxoStatusChange,
    NetworkSendingControl,
)
from withdrawals.models.orders import (  # noqa: F401
    IdempotencyRecord,
    WithdrawalOrder,
    WithdrawalStatusChange,
    WithdrawalTransaction,
    WithdrawalTransactionStateChange,
)
from withdrawals.models.otp import TotpDevice  # noqa: F401
from withdrawals.models.reconciliation import (  # noqa: F401
    HotWalletOpening,
    HotWalletOpeningStatusChange,
    ReconciliationAlert,
)
from withdrawals.models.travel_rule import TravelRuleRecord  # noqa: F401
