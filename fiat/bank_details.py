"""Checks of a bank account's details per rail (pure functions; raise DomainError).

IBAN and BIC through schwifty (checksums, country formats, BIC structure and country). Hong
Kong has no IBAN: FPS and CHATS accounts are a 3-digit clearing code of a member bank plus an
account number, or (FPS) an FPS id. schwifty has no Hong Kong bank registry, so the clearing
codes we accept are the table below (HKICL members the tenant pays to; extend it here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from core.errors import DomainError
from fiat.models import RAIL_CURRENCIES, Rail

# HKICL clearing codes of Hong Kong banks (code -> name).
HK_BANK_CODES: dict[str, str] = {
    "003": "Standard Chartered Bank (Hong Kong)",
    "004": "The Hongkong and Shanghai Banking Corporation",
    "009": "China Construction Bank (Asia)",
    "012": "Bank of China (Hong Kong)",
    "015": "The Bank of East Asia",
    "016": "DBS Bank (Hong Kong)",
    "018": "China CITIC Bank International",
    "020": "CMB Wing Lung Bank",
    "024": "Hang Seng Bank",
    "025": "Shanghai Commercial Bank",
    "027": "Bank of Communications (Hong Kong)",
    "028": "Public Bank (Hong Kong)",
    "035": "OCBC Bank (Hong Kong)",
    "038": "Tai Yau Bank",
    "039": "Chiyu Banking Corporation",
    "040": "Dah Sing Bank",
    "041": "Chong Hing Bank",
    "043": "Nanyang Commercial Bank",
    "061": "Tai Sang Bank",
    "072": "Industrial and Commercial Bank of China (Asia)",
    "250": "Citibank (Hong Kong)",
    "387": "ZA Bank",
    "388": "Livi Bank",
    "393": "Airstar Bank",
    "395": "WeLab Bank",
}

ACCOUNT_NUMBER_RE = re.compile(r"^[A-Z0-9]{6,34}$")
HK_ACCOUNT_NUMBER_RE = re.compile(r"^[0-9]{6,12}$")
FPS_ID_RE = re.compile(r"^[0-9]{7}$|^[0-9]{9}$")


@dataclass(frozen=True)
class BankDetails:
    rail: str
    currency: str
    iban: str = ""
    account_number: str = ""
    bank_code: str = ""
    bic: str = ""
    fps_id: str = ""
    bank_country: str = ""


def _compact(value) -> str:
    return re.sub(r"[\s\-]", "", str(value or "")).upper()


def bic_check(value: str) -> BIC:
    try:
        bic = BIC(_compact(value))
    except SchwiftyException as exc:
        raise DomainError("invalid_bic", f"Not a valid BIC: {exc}.", field="bic") from None
    return bic


def iban_check(value: str) -> IBAN:
    try:
        return IBAN(_compact(value))
    except SchwiftyException as exc:
        raise DomainError("invalid_iban", f"Not a valid IBAN: {exc}.", field="iban") from None


def bank_code_check(value: str) -> str:
    code = _compact(value)
    if code not in HK_BANK_CODES:
        raise DomainError("invalid_bank_code", "Not the 3-digit clearing code of a Hong Kong bank we pay to.",
                          field="bank_code")
    return code


def bank_details_check(*, rail: str, currency: str, iban="", account_number="", bank_code="", bic="",
                       fps_id="") -> BankDetails:
    """The details normalized, or the first problem as a DomainError (nothing is stored)."""
    rail = _compact(rail)
    currency = _compact(currency)
    if rail not in Rail.values:
        raise DomainError("validation_error", f"rail must be one of {', '.join(Rail.values)}.", field="rail")
    if currency not in ("HKD", "USD"):
        raise DomainError("validation_error", "currency must be HKD or USD.", field="currency")
    if currency not in RAIL_CURRENCIES[rail]:
        raise DomainError("currency_not_on_rail", f"{rail} does not carry {currency}.", field="currency")
    iban, account_number, bank_code, bic, fps_id = map(_compact, (iban, account_number, bank_code, bic, fps_id))

    if rail == Rail.SWIFT:
        if fps_id:
            raise DomainError("validation_error", "An FPS id is for the FPS rail.", field="fps_id")
        if not bic:
            raise DomainError("invalid_bic", "A SWIFT payment needs the bank's BIC.", field="bic")
        checked_bic = bic_check(bic)
        if bool(iban) == bool(account_number):
            raise DomainError("validation_error", "Give either an IBAN or an account number.",
                              field="iban" if not iban else "account_number")
        country = checked_bic.country_code
        if iban:
            checked = iban_check(iban)
            if checked.country_code != checked_bic.country_code:
                raise DomainError("invalid_bic", f"The BIC's country {checked_bic.country_code} is not the IBAN's "
                                                 f"{checked.country_code}.", field="bic")
            iban = checked.compact
        elif not ACCOUNT_NUMBER_RE.match(account_number):
            raise DomainError("validation_error", "The account number must be 6-34 letters or digits.",
                              field="account_number")
        if bank_code:
            bank_code = bank_code_check(bank_code)
        return BankDetails(rail=rail, currency=currency, iban=iban, account_number=account_number,
                           bank_code=bank_code, bic=str(checked_bic.compact), bank_country=country)

    # FPS and CHATS are Hong Kong rails: no IBAN.
    if iban:
        raise DomainError("invalid_iban", f"Hong Kong has no IBAN; {rail} takes a bank code and account number.",
                          field="iban")
    if bic:
        checked_bic = bic_check(bic)
        if checked_bic.country_code != "HK":
            raise DomainError("invalid_bic", f"{rail} is a Hong Kong rail; the BIC is of {checked_bic.country_code}.",
                              field="bic")
        bic = str(checked_bic.compact)
    if rail == Rail.FPS and fps_id:
        if account_number or bank_code:
            raise DomainError("validation_error", "Give an FPS id or a bank code and account number, not both.",
                              field="fps_id")
        if not FPS_ID_RE.match(fps_id):
            raise DomainError("validation_error", "An FPS id is 7 or 9 digits.", field="fps_id")
        return BankDetails(rail=rail, currency=currency, fps_id=fps_id, bic=bic, bank_country="HK")
    if rail == Rail.CHATS and fps_id:
        raise DomainError("validation_error", "An FPS id is for the FPS rail.", field="fps_id")
    if not bank_code:
        raise DomainError("invalid_bank_code", f"{rail} needs the bank's 3-digit clearing code.", field="bank_code")
    bank_code = bank_code_check(bank_code)
    if not HK_ACCOUNT_NUMBER_RE.match(account_number):
        raise DomainError("validation_error", "A Hong Kong account number is 6-12 digits.", field="account_number")
    return BankDetails(rail=rail, currency=currency, account_number=account_number, bank_code=bank_code, bic=bic,
                       bank_country="HK")
