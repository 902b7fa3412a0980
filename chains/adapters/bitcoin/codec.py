"""The ``utxo`` (BTC) adapter: addresses, keys, coin selection, signing, signed messages.

Everything in this module except ``UtxoAdapter``'s node calls is pure: no database, no network.
bitcoinlib is used only through its low-level modules (keys, encoding, transactions), which
need no database; its data directory is pinned under ``var/`` before it is first imported (it
reads its config at import time) and its service cache is switched off, so it can neither write
a side database nor reach a public provider. The node side lives in ``bitcoin_backends``.

The hot wallet is one P2WPKH (native segwit) key. Addresses are decoded with our own network
table rather than bitcoinlib's: bitcoinlib's ``regtest`` uses mainnet base58 prefixes, while
Bitcoin Core's regtest uses the testnet ones.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from core.embedded import VAR_DIR

# bitcoinlib reads BCL_DATA_DIR when first imported; settings set it too, this covers scripts.
os.environ.setdefault("BCL_DATA_DIR", str(VAR_DIR / "bitcoinlib"))

import base58  # noqa: E402
import bitcoinlib.config.config as _bcl_config  # noqa: E402
import bitcoinlib.services.services as _bcl_services  # noqa: E402
import coincurve  # noqa: E402
from bitcoinlib.encoding import EncodingError, addr_bech32_to_pubkeyhash, hash160, pubkeyhash_to_addr_bech32  # noqa: E402
from bitcoinlib.keys import HDKey, Key  # noqa: E402
from bitcoinlib.mnemonic import Mnemonic  # noqa: E402
from bitcoinlib.transactions import Transaction  # noqa: E402

from chains.adapters.base import (  # noqa: E402
    AddressError,
    PermanentChainError,
    TransientChainError,
)

# No service cache database, ever (services are never used here, this is belt and braces);
# bitcoinlib/__init__ imports its services module, which copied the flag at import.
_bcl_config.SERVICE_CACHING_ENABLED = False
_bcl_services.SERVICE_CACHING_ENABLED = False

SATS_PER_BTC = 100_000_000
BTC_DECIMALS = 8
# Replace-by-fee (BIP-125): any nSequence below 0xfffffffe signals; this is the customary value.
RBF_SEQUENCE = 0xFFFFFFFD
# Change below this is not worth an output (and would be non-standard); it goes to the fee.
DUST_LIMIT_SAT = 546
MIN_FEE_RATE_SAT_VB = Decimal("1")
# A fee bump raises the rate by at least this factor and this many sat/vB per step.
FEE_BUMP_FACTOR = Decimal("1.25")
FEE_BUMP_MIN_STEP_SAT_VB = Decimal("1")
# Fee cap when the coin sets none: no single withdrawal may burn more than this.
DEFAULT_FEE_CAP_BTC = Decimal("0.0005")


class InsufficientFunds(TransientChainError):
    """The hot wallet's UTXOs cannot cover amount + fee. Retry once it is topped up."""


class FeeCapExceeded(TransientChainError):
    """The fee at the current rate is above the coin's cap. Retry when fees come down."""


# --- Networks and addresses ------------------------------------------------------------------


@dataclass(frozen=True)
class BtcNetwork:
    name: str
    p2pkh_version: int
    p2sh_version: int
    hrp: str
    bitcoinlib_name: str  # the name bitcoinlib knows it by (for Key / Transaction objects)


BTC_NETWORKS: dict[str, BtcNetwork] = {
    "bitcoin": BtcNetwork("bitcoin", 0x00, 0x05, "bc", "bitcoin"),
    "testnet": BtcNetwork("testnet", 0x6F, 0xC4, "tb", "testnet"),
    "regtest": BtcNetwork("regtest", 0x6F, 0xC4, "bcrt", "regtest"),
    # bitcoinlib's own test network (networks.json): the local simulated chain uses it.
    "bitcoinlib_test": BtcNetwork("bitcoinlib_test", 0x90, 0x95, "blt", "bitcoinlib_test"),
}
DEFAULT_ADDRESS_NETWORK = "bitcoin"
MAX_ADDRESS_LENGTH = 90  # BIP-173 upper bound; base58 addresses are far shorter


def btc_network(address_network: str) -> BtcNetwork:
    try:
        return BTC_NETWORKS[address_network or DEFAULT_ADDRESS_NETWORK]
    except KeyError:
        raise ValueError(f"Unknown BTC address network {address_network!r}.") from None


@dataclass(frozen=True)
class DecodedAddress:
    address: str  # canonical form
    kind: str  # p2pkh, p2sh, p2wpkh, p2wsh, p2tr
    program: bytes  # hash160, script hash or witness program
    script_pubkey: bytes


def _invalid(detail: str) -> AddressError:
    return AddressError("invalid_address", detail)


def _mismatch(address_network: str, other: str) -> AddressError:
    return AddressError("network_mismatch", f"This is a {other} address, not a {address_network} one.")


def decode_address(address: str, *, address_network: str = "") -> DecodedAddress:
    """Decode and check a BTC address for ``address_network``; raise AddressError otherwise.

    Accepts base58check P2PKH/P2SH, bech32 v0 (P2WPKH/P2WSH) and bech32m v1 (taproot, 32 bytes).
    Other witness versions are refused: an output to a not-yet-defined version is spendable by
    anyone until a soft fork gives it meaning. Surrounding whitespace is refused, not stripped.
    """
    net = btc_network(address_network)
    if not isinstance(address, str) or not address:
        raise _invalid("Empty address.")
    if len(address) > MAX_ADDRESS_LENGTH or not address.isascii() or not address.isalnum():
        raise _invalid("Not a Bitcoin address.")
    hrp = address[: address.rfind("1")].lower() if "1" in address else ""
    if hrp in {n.hrp for n in BTC_NETWORKS.values()}:
        return _decode_segwit(address, hrp, net)
    return _decode_base58(address, net)


def _decode_segwit(address: str, hrp: str, net: BtcNetwork) -> DecodedAddress:
    try:
        # Checks the charset, mixed case, length, bech32 vs bech32m checksum and padding.
        script = addr_bech32_to_pubkeyhash(address, include_witver=True)
    except (EncodingError, ValueError, KeyError, TypeError, IndexError):
        raise _invalid("Bad bech32 address or checksum.") from None
    if hrp != net.hrp:
        other = next(n.name for n in BTC_NETWORKS.values() if n.hrp == hrp)
        raise _mismatch(net.name, other)
    version = 0 if script[0] == 0 else script[0] - 0x50
    program = script[2:]
    kinds = {(0, 20): "p2wpkh", (0, 32): "p2wsh", (1, 32): "p2tr"}
    kind = kinds.get((version, len(program)))
    if kind is None:
        raise _invalid(f"Unsupported witness version {version} / program length {len(program)}.")
    return DecodedAddress(address.lower(), kind, program, script)


def _decode_base58(address: str, net: BtcNetwork) -> DecodedAddress:
    try:
        payload = base58.b58decode_check(address)
    except ValueError:
        raise _invalid("Bad base58 address or checksum.") from None
    if len(payload) != 21:
        raise _invalid("Not a Bitcoin address.")
    version, program = payload[0], payload[1:]
    if version == net.p2pkh_version:
        return DecodedAddress(address, "p2pkh", program, p2pkh_script(program))
    if version == net.p2sh_version:
        return DecodedAddress(address, "p2sh", program, bytes([0xA9, 0x14]) + program + bytes([0x87]))
    other = next((n.name for n in BTC_NETWORKS.values() if version in (n.p2pkh_version, n.p2sh_version)), None)
    if other is None:
        raise _invalid("Not a Bitcoin address.")
    raise _mismatch(net.name, other)


def p2pkh_script(pubkey_hash: bytes) -> bytes:
    return bytes([0x76, 0xA9, 0x14]) + pubkey_hash + bytes([0x88, 0xAC])


def p2wpkh_script(pubkey_hash: bytes) -> bytes:
    return bytes([0x00, 0x14]) + pubkey_hash


def p2wpkh_address(pubkey_hash: bytes, *, address_network: str = "") -> str:
    return pubkeyhash_to_addr_bech32(pubkey_hash, prefix=btc_network(address_network).hrp, witver=0)


def script_to_address(script: bytes, *, address_network: str = "") -> str:
    """The address of a standard output script, or "" for anything else (e.g. OP_RETURN)."""
    net = btc_network(address_network)
    if len(script) == 25 and script[:3] == bytes([0x76, 0xA9, 0x14]) and script[23:] == bytes([0x88, 0xAC]):
        return base58.b58encode_check(bytes([net.p2pkh_version]) + script[3:23]).decode()
    if len(script) == 23 and script[:2] == bytes([0xA9, 0x14]) and script[22] == 0x87:
        return base58.b58encode_check(bytes([net.p2sh_version]) + script[2:22]).decode()
    if len(script) in (22, 34) and script[1] == len(script) - 2 and (script[0] == 0 or 0x51 <= script[0] <= 0x60):
        version = 0 if script[0] == 0 else script[0] - 0x50
        return pubkeyhash_to_addr_bech32(script[2:], prefix=net.hrp, witver=version)
    return ""


# --- Keys ------------------------------------------------------------------------------------


def public_key(private_key: bytes) -> bytes:
    """Compressed SEC public key of a 32-byte private key."""
    return coincurve.PrivateKey(private_key).public_key.format(compressed=True)


def hot_wallet_address(private_key: bytes, *, address_network: str = "") -> str:
    """The P2WPKH address of the hot wallet key."""
    return p2wpkh_address(hash160(public_key(private_key)), address_network=address_network)


def derive_private_key(mnemonic: str, path: str = "m/84'/0'/0'/0/0", *, passphrase: str = "") -> bytes:
    """BIP-39 mnemonic + BIP-32 path → 32-byte private key (BIP-84 path by default)."""
    seed = Mnemonic().to_seed(mnemonic, password=passphrase)
    return bytes.fromhex(HDKey.from_seed(seed).key_for_path(path).private_hex)


# --- Amounts and fees ------------------------------------------------------------------------


def btc_to_sat(amount: Decimal) -> int:
    """Exact BTC → satoshis; more than 8 decimals is an error, never rounded."""
    try:
        sat = Decimal(amount) * SATS_PER_BTC
        if not sat.is_finite() or sat != sat.to_integral_value():
            raise ValueError
    except (InvalidOperation, ValueError, TypeError):
        raise ValueError(f"Amount must be a finite decimal with at most {BTC_DECIMALS} decimals.") from None
    return int(sat)


def sat_to_btc(sat: int) -> Decimal:
    return (Decimal(sat) / SATS_PER_BTC).quantize(Decimal(1).scaleb(-BTC_DECIMALS))


def bumped_fee_rate(base_rate: Decimal, fee_bump: int) -> Decimal:
    """The rate for bump step ``fee_bump``: each step +25 % and at least +1 sat/vB."""
    rate = max(Decimal(base_rate), MIN_FEE_RATE_SAT_VB)
    for _ in range(fee_bump):
        rate = max(rate + FEE_BUMP_MIN_STEP_SAT_VB, rate * FEE_BUMP_FACTOR)
    return rate


def fee_for(vsize: int, rate: Decimal) -> int:
    return int((Decimal(vsize) * rate).to_integral_value(rounding=ROUND_CEILING))


def _varint_len(n: int) -> int:
    return 1 if n < 0xFD else 3 if n <= 0xFFFF else 5


# A P2WPKH input: 41 bytes outside the witness (outpoint 36, empty scriptSig 1, nSequence 4) and
# a witness of item count 1 + signature 1+72 (worst case DER + sighash byte) + pubkey 1+33.
_P2WPKH_INPUT_BASE = 41
_P2WPKH_INPUT_WITNESS = 108


def estimate_vsize(n_inputs: int, output_script_lengths: Sequence[int]) -> int:
    """Upper bound of the vsize of a tx spending ``n_inputs`` P2WPKH inputs (signatures at max size)."""
    base = 4 + 4 + _varint_len(n_inputs) + _varint_len(len(output_script_lengths))  # version, locktime
    base += n_inputs * _P2WPKH_INPUT_BASE + sum(8 + _varint_len(n) + n for n in output_script_lengths)
    weight = base * 4 + 2 + n_inputs * _P2WPKH_INPUT_WITNESS  # 2: segwit marker and flag
    return math.ceil(weight / 4)


# --- Coin selection --------------------------------------------------------------------------


@dataclass(frozen=True)
class Utxo:
    """An unspent output of the hot wallet, as tracked by our database or read from the node."""

    txid: str
    vout: int
    value_sat: int
    script_pubkey: str  # hex
    address: str = ""

    @property
    def outpoint(self) -> str:
        return f"{self.txid}:{self.vout}"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Utxo:
        return cls(txid=data["txid"], vout=int(data["vout"]), value_sat=int(data["value_sat"]),
                   script_pubkey=data["script_pubkey"], address=data.get("address", ""))


@dataclass(frozen=True)
class Selection:
    inputs: tuple[Utxo, ...]
    fee_sat: int
    change_sat: int  # 0: no change output
    vsize: int  # estimated (upper bound)


def select_coins(utxos: Iterable[Utxo], *, amount_sat: int, fee_rate: Decimal, recipient_script_length: int,
                 change_script_length: int = 22) -> Selection:
    """Largest-first selection.

    Take UTXOs from the largest down (ties by outpoint, so the choice is deterministic) until they
    cover amount + fee. Change below the dust limit is left to the fee instead of making an
    output. Largest-first keeps the input count (and fee) low and has one more property the fee
    bump relies on: with the same UTXO list, a higher rate selects a superset of the inputs
    chosen at the lower rate, so the replacement spends every input of the transaction it
    replaces (BIP-125).
    """
    ordered = sorted(utxos, key=lambda u: (-u.value_sat, u.txid, u.vout))
    chosen: list[Utxo] = []
    total = 0
    for utxo in ordered:
        chosen.append(utxo)
        total += utxo.value_sat
        with_change = estimate_vsize(len(chosen), [recipient_script_length, change_script_length])
        change = total - amount_sat - fee_for(with_change, fee_rate)
        if change >= DUST_LIMIT_SAT:
            return Selection(tuple(chosen), total - amount_sat - change, change, with_change)
        without_change = estimate_vsize(len(chosen), [recipient_script_length])
        if total - amount_sat >= fee_for(without_change, fee_rate):
            return Selection(tuple(chosen), total - amount_sat, 0, without_change)
    raise InsufficientFunds(f"The hot wallet's {len(ordered)} UTXOs ({total} sat) do not cover "
                            f"{amount_sat} sat plus the fee at {fee_rate} sat/vB.")


# --- Signing ---------------------------------------------------------------------------------


def build_signed_transaction(*, private_key: bytes, to_address: str, amount_sat: int, utxos: Iterable[Utxo],
                             fee_rate: Decimal, fee_cap_sat: int, address_network: str = "",
                             change_address: str = "") -> tuple[Transaction, Selection, DecodedAddress | None]:
    """Select, build and sign a P2WPKH-funded transfer. Pure: the UTXOs and the rate are given."""
    net = btc_network(address_network)
    recipient = decode_address(to_address, address_network=net.name)
    if amount_sat < DUST_LIMIT_SAT:
        raise ValueError(f"Amount below the dust limit ({DUST_LIMIT_SAT} sat).")
    pubkey = public_key(private_key)
    own_script = p2wpkh_script(hash160(pubkey))
    utxos = list(utxos)
    foreign = [u.outpoint for u in utxos if bytes.fromhex(u.script_pubkey) != own_script]
    if foreign:
        raise ValueError(f"UTXOs not paying the hot wallet's P2WPKH script: {', '.join(foreign)}.")
    change = decode_address(change_address, address_network=net.name) if change_address else None
    change_script = change.script_pubkey if change else own_script
    selection = select_coins(utxos, amount_sat=amount_sat, fee_rate=fee_rate,
                             recipient_script_length=len(recipient.script_pubkey),
                             change_script_length=len(change_script))
    if selection.fee_sat > fee_cap_sat:
        raise FeeCapExceeded(f"Fee {selection.fee_sat} sat at {fee_rate} sat/vB is above the cap of "
                             f"{fee_cap_sat} sat.")

    key = Key(private_key, network=net.bitcoinlib_name, compressed=True)
    tx = Transaction(network=net.bitcoinlib_name, witness_type="segwit", version=2)
    for utxo in selection.inputs:
        tx.add_input(utxo.txid, utxo.vout, keys=[key], value=utxo.value_sat, witness_type="segwit",
                     script_type="sig_pubkey", sequence=RBF_SEQUENCE)
    # Outputs by script, not address: bitcoinlib's own address parsing differs on regtest.
    tx.add_output(amount_sat, lock_script=recipient.script_pubkey)
    if selection.change_sat:
        tx.add_output(selection.change_sat, lock_script=change_script)
    # sign_and_update, not sign: plain sign() leaves a txid computed before the version bump.
    tx.sign_and_update()
    if not tx.verify():  # pragma: no cover - would be a bitcoinlib bug
        raise PermanentChainError("The signed transaction does not verify.")
    return tx, selection, change


def parse_transaction(raw_hex: str, *, address_network: str = "") -> Transaction:
    return Transaction.parse_hex(raw_hex, network=btc_network(address_network).bitcoinlib_name)


# --- Signed messages (BIP-137) ---------------------------------------------------------------

_MESSAGE_MAGIC = b"\x18Bitcoin Signed Message:\n"
_HEADER_OFFSETS = {"p2pkh_uncompressed": 0, "p2pkh": 4, "p2sh-p2wpkh": 8, "p2wpkh": 12}


def message_hash(message: str) -> bytes:
    data = message.encode()
    size = len(data)
    prefix = bytes([size]) if size < 0xFD else b"\xfd" + size.to_bytes(2, "little") if size <= 0xFFFF \
        else b"\xfe" + size.to_bytes(4, "little")
    return hashlib.sha256(hashlib.sha256(_MESSAGE_MAGIC + prefix + data).digest()).digest()


def sign_message(private_key: bytes, message: str, address_type: str = "p2wpkh") -> str:
    """A BIP-137 signature (base64 of header + r + s) proving control of the key's address."""
    offset = _HEADER_OFFSETS[address_type]
    compact = coincurve.PrivateKey(private_key).sign_recoverable(message_hash(message), hasher=None)
    header = 27 + offset + compact[64]
    return base64.b64encode(bytes([header]) + compact[:64]).decode()


def verify_message(*, address: str, message: str, signature: str, address_network: str = "") -> bool:
    """Whether a BIP-137 signature over ``message`` was made by the key behind ``address``.

    The header says whether the key is compressed; which address type it names is not held
    against the signer, since wallets (Electrum, Trezor) disagree on segwit headers: the
    recovered key must simply produce ``address``. Taproot (BIP-322) is not supported.
    Never raises: malformed input of any kind is False.
    """
    try:
        decoded = decode_address(address, address_network=address_network)
        raw = base64.b64decode(signature, validate=True)
        if len(raw) != 65 or not 27 <= raw[0] <= 42:
            return False
        recovery_id, compressed = (raw[0] - 27) & 3, raw[0] >= 31
        recovered = coincurve.PublicKey.from_signature_and_message(
            raw[1:] + bytes([recovery_id]), message_hash(message), hasher=None)
        pubkey_hash = hash160(recovered.format(compressed=compressed))
    except Exception:  # noqa: BLE001 - any malformed input means "not verified"
        return False
    if decoded.kind == "p2pkh":
        return decoded.program == pubkey_hash
    if not compressed:  # segwit keys are always compressed
        return False
    if decoded.kind == "p2wpkh":
        return decoded.program == pubkey_hash
    if decoded.kind == "p2sh":  # P2SH-wrapped P2WPKH
        return decoded.program == hash160(p2wpkh_script(pubkey_hash))
    return False
