from fiat.models.bank_accounts import (  # noqa: F401
    FIAT_CURRENCIES,
    RAIL_CURRENCIES,
    BankAccount,
    BankAccountReviewItem,
    BankAccountStatusChange,
    NameMatch,
    Rail,
)
from fiat.models.cashout import (  # noqa: F401
    CHARGE_BEARER,
    BankStatement,
    ChargeOption,
    FiatIdempotencyRecord,
    FiatWithdrawal,
    FiatWithdrawalStatusChange,
    PaymentBatch,
    Quote,
    Sell,
    StatementLine,
)
