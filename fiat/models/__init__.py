from fiat.models.bank_accounts import (  # noqa: F401
    FIAT_CURRENCIES,
    RAIL_CURRENCIES,
    BankAccount,
    BankAccountReviewItem,
    BankAccountStatusChange,
    NameMatch,
    Rail,
)
