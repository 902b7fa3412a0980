"""The ``tron`` adapter: TRX and TRC-20 transfers built and signed offline with tronpy's keys.

A TRON transaction is ``raw_data`` (a protobuf message) plus signatures; its id is
sha256(raw_data bytes). We serialize raw_data ourselves (a few fields, below) instead of
asking the node to build the transaction, so the id is known before anything is sent and a
node cannot slip in anything we did not sign. The node only supplies the reference block (TAPoS).
No memo (raw_data.data) is ever set. tronpy's own offline builder needs the protobuf package,
which this project does not install; ``encode_raw_data`` covers exactly the two contracts used.

Addresses: base58check, 34 characters, starting with T (version byte 0x41). The hex form
``41`` + 40 hex digits, as TRON nodes print it, is accepted and converted to base58; the
Ethereum-style ``0x`` form is refused, so an ETH address is never taken for a TRON one. Mainnet
and the testnets (nile, shasta) share the format, so there is no network_mismatch on TRON.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation

import base58
import coincurve
from tronpy.abi import tron_abi
from tronpy.keys import PrivateKey, keccak256, public_key_to_base58check_addr

from chains.adapters.base import (
    AddressError,
    CoinConfig,
    PermanentChainError,
)

TRX_DECIMALS = 6
SUN_PER_TRX = 10**TRX_DECIMALS
ADDRESS_VERSION = 0x41
DEFAULT_EXPIRATION_MS = 10 * 60 * 1000
# Burned for bandwidth when the hot account has no free or staked bandwidth left (≈ 270 bytes at
# 1000 SUN/byte, rounded up): the worst case, which is what a fee reserve should assume.
BANDWIDTH_FEE_TRX = Decimal("0.35")
# Energy of a TRC-20 (USDT) transfer to an address that already holds the token; a first-time
# holder costs about twice that, which fee_limit covers.
TRC20_TRANSFER_ENERGY = 65_000
FALLBACK_ENERGY_PRICE_SUN = 210  # chain parameter getEnergyFee, when the node does not say
# fee_limit of a TRC-20 transfer when the coin has no fee_cap: the most energy it may burn.
DEFAULT_TRC20_FEE_LIMIT_TRX = Decimal("50")
TRANSFER_SELECTOR = keccak256(b"transfer(address,uint256)")[:4]

# broadcasttransaction codes meaning "the node is not able right now": retry later.
TRANSIENT_BROADCAST_CODES = {"SERVER_BUSY", "NO_CONNECTION", "NOT_ENOUGH_EFFECTIVE_CONNECTION", "BLOCK_UNSOLIDIFIED"}
# receipt.result values of a transaction that was mined but failed.
SUCCESS_RESULTS = {"SUCCESS", "DEFAULT"}


class TransactionExpired(PermanentChainError):
    """The transaction's expiration passed: it can never be included. Only then may it be rebuilt."""


# --- Addresses -------------------------------------------------------------------------------


def _invalid(detail: str) -> AddressError:
    return AddressError("invalid_address", detail)


def normalize_address(address: str) -> str:
    """Canonical base58check form of a TRON address; AddressError("invalid_address") otherwise."""
    if not isinstance(address, str) or not address:
        raise _invalid("Empty address.")
    if len(address) == 42 and address[:2] == "41":
        try:
            raw = bytes.fromhex(address)
        except ValueError:
            raise _invalid("Not a TRON address.") from None
        return base58.b58encode_check(raw).decode()
    if len(address) != 34 or address[0] != "T" or not address.isascii() or not address.isalnum():
        raise _invalid("Not a TRON address.")
    try:
        raw = base58.b58decode_check(address)
    except ValueError:
        raise _invalid("Bad TRON address checksum.") from None
    if len(raw) != 21 or raw[0] != ADDRESS_VERSION:
        raise _invalid("Not a TRON address.")
    return address


def address_hex(address: str) -> str:
    """``41…`` hex form, as raw_data carries addresses (visible=false)."""
    return base58.b58decode_check(normalize_address(address)).hex()


def address_from_private_key(private_key: bytes) -> str:
    return PrivateKey(private_key).public_key.to_base58check_address()


# --- Amounts ---------------------------------------------------------------------------------


def to_base_units(amount: Decimal, decimals: int) -> int:
    """Exact whole units → smallest units; more decimals than the asset has is an error."""
    try:
        units = Decimal(amount).scaleb(decimals)
        if not units.is_finite() or units != units.to_integral_value() or units <= 0:
            raise ValueError
    except (InvalidOperation, ValueError, TypeError):
        raise ValueError(f"Amount must be a positive decimal with at most {decimals} decimals.") from None
    return int(units)


def sun_to_trx(sun: int) -> Decimal:
    return (Decimal(sun) / SUN_PER_TRX).quantize(Decimal(1).scaleb(-TRX_DECIMALS))


# --- Protobuf serialization of Transaction.raw (core/Tron.proto) -------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value) if value else b""  # proto3 omits defaults


def _bytes_field(number: int, value: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(value)) + value if value else b""


# Contract.ContractType numbers and their parameter messages: (field number, name, kind).
_CONTRACTS = {
    "TransferContract": (1, [(1, "owner_address", "address"), (2, "to_address", "address"), (3, "amount", "int")]),
    "TriggerSmartContract": (31, [(1, "owner_address", "address"), (2, "contract_address", "address"),
                                  (3, "call_value", "int"), (4, "data", "hex"), (5, "call_token_value", "int"),
                                  (6, "token_id", "int")]),
}


def encode_raw_data(raw_data: dict) -> bytes:
    """Serialize ``raw_data`` the way java-tron does (fields in number order, defaults omitted).

    Only TransferContract and TriggerSmartContract; no data, auths or scripts: anything else is
    refused rather than silently dropped from what gets signed.
    """
    unsupported = set(raw_data) - {"contract", "ref_block_bytes", "ref_block_hash", "expiration", "timestamp",
                                   "fee_limit"}
    if unsupported:
        raise ValueError(f"Unsupported raw_data fields: {sorted(unsupported)}.")
    contracts = b""
    for contract in raw_data["contract"]:
        type_number, fields = _CONTRACTS[contract["type"]]
        value = contract["parameter"]["value"]
        unknown = set(value) - {name for _, name, _ in fields}
        if unknown:
            raise ValueError(f"Unsupported {contract['type']} fields: {sorted(unknown)}.")
        message = b""
        for number, name, kind in fields:
            if name not in value:
                continue
            if kind == "int":
                message += _int_field(number, int(value[name]))
            else:  # addresses (41… hex) and call data are both hex on the wire format
                message += _bytes_field(number, bytes.fromhex(value[name]))
        any_message = _bytes_field(1, contract["parameter"]["type_url"].encode()) + _bytes_field(2, message)
        contracts += _bytes_field(11, _int_field(1, type_number) + _bytes_field(2, any_message)
                                  + _int_field(5, int(contract.get("Permission_id", 0))))
    return (_bytes_field(1, bytes.fromhex(raw_data["ref_block_bytes"]))
            + _bytes_field(4, bytes.fromhex(raw_data["ref_block_hash"]))
            + _int_field(8, int(raw_data["expiration"]))
            + contracts
            + _int_field(14, int(raw_data["timestamp"]))
            + _int_field(18, int(raw_data.get("fee_limit", 0))))


def txid_of(raw_data_bytes: bytes) -> str:
    return hashlib.sha256(raw_data_bytes).hexdigest()


def trc20_transfer_data(to_address: str, units: int) -> str:
    """Call data of ``transfer(address,uint256)`` (the address is ABI-encoded without 0x41)."""
    return (TRANSFER_SELECTOR + tron_abi.encode(["address", "uint256"], [normalize_address(to_address), units])).hex()


def balance_of_parameter(owner: str) -> str:
    """The ABI-encoded argument of ``balanceOf(address)`` (hex, no selector)."""
    return tron_abi.encode(["address"], [normalize_address(owner)]).hex()


def decode_trc20_transfer(data_hex: str) -> tuple[str, int] | None:
    """(recipient, units) of ``transfer(address,uint256)`` call data; None for any other call."""
    data = bytes.fromhex(data_hex)
    if data[:4] != TRANSFER_SELECTOR or len(data) != 68:
        return None
    recipient = base58.b58encode_check(bytes([ADDRESS_VERSION]) + data[16:36]).decode()
    return recipient, int.from_bytes(data[36:68], "big")


def transfer_raw_data(*, coin: CoinConfig, sender: str, to_address: str, units: int, ref_block_id: str,
                      now_ms: int, expiration_ms: int, fee_limit_sun: int) -> dict:
    """raw_data of a TRX (TransferContract) or TRC-20 (TriggerSmartContract) transfer."""
    if coin.is_token:
        contract_type = "TriggerSmartContract"
        value = {"owner_address": address_hex(sender), "contract_address": address_hex(coin.contract_address),
                 "data": trc20_transfer_data(to_address, units)}
    else:
        contract_type = "TransferContract"
        value = {"owner_address": address_hex(sender), "to_address": address_hex(to_address), "amount": units}
    raw_data = {
        "contract": [{"parameter": {"value": value, "type_url": f"type.googleapis.com/protocol.{contract_type}"},
                      "type": contract_type}],
        # TAPoS: bytes 6-8 (low 16 bits of the number) and 8-16 of the reference block id.
        "ref_block_bytes": ref_block_id[12:16],
        "ref_block_hash": ref_block_id[16:32],
        "expiration": now_ms + expiration_ms,
        "timestamp": now_ms,
    }
    if coin.is_token:
        raw_data["fee_limit"] = fee_limit_sun
    return raw_data


def sign_raw_data(raw_data: dict, private_key: bytes) -> dict:
    """The signed transaction as broadcasttransaction takes it."""
    raw_bytes = encode_raw_data(raw_data)
    txid = txid_of(raw_bytes)
    signature = coincurve.PrivateKey(private_key).sign_recoverable(bytes.fromhex(txid), hasher=None)
    return {"txID": txid, "raw_data": raw_data, "raw_data_hex": raw_bytes.hex(), "signature": [signature.hex()],
            "visible": False}


def recover_signer(txid: str, signature_hex: str) -> str:
    """The base58 address whose key made ``signature_hex`` (r, s, v) over ``txid``."""
    signature = bytes.fromhex(signature_hex.removeprefix("0x"))
    if len(signature) != 65:
        raise ValueError("A signature is 65 bytes.")
    v = signature[64] - 27 if signature[64] >= 27 else signature[64]
    public = coincurve.PublicKey.from_signature_and_message(signature[:64] + bytes([v]), bytes.fromhex(txid),
                                                           hasher=None)
    return public_key_to_base58check_addr(public.format(compressed=False)[1:])


# --- Signed messages -------------------------------------------------------------------------

TRON_MESSAGE_PREFIX = b"\x19TRON Signed Message:\n"
ETHEREUM_MESSAGE_PREFIX = b"\x19Ethereum Signed Message:\n"


def message_hash(message: str, prefix: bytes = TRON_MESSAGE_PREFIX) -> bytes:
    """TIP-191 (TronWeb signMessageV2): keccak(prefix + decimal byte length + message)."""
    data = message.encode()
    return keccak256(prefix + str(len(data)).encode() + data)


def sign_message(private_key: bytes, message: str) -> str:
    """0x-hex r‖s‖v (v = 27/28), the TronWeb format."""
    signature = coincurve.PrivateKey(private_key).sign_recoverable(message_hash(message), hasher=None)
    return "0x" + signature[:64].hex() + f"{signature[64] + 27:02x}"


def verify_message(*, address: str, message: str, signature: str) -> bool:
    """Whether ``signature`` over ``message`` (TRON prefix, or the Ethereum one) is ``address``'s.

    Never raises: malformed input of any kind is False.
    """
    try:
        expected = normalize_address(address)
        for prefix in (TRON_MESSAGE_PREFIX, ETHEREUM_MESSAGE_PREFIX):
            if recover_signer(message_hash(message, prefix).hex(), signature) == expected:
                return True
    except Exception:  # noqa: BLE001 - any malformed input means "not verified"
        return False
    return False


# --- The adapter -----------------------------------------------------------------------------
