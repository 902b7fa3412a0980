"""Hot-wallet keys: from the environment or a key file outside the repository, never the database.

``HOT_KEY_<NETWORK>`` (hex) wins; otherwise the JSON file at settings.HOT_KEYS_FILE
(``{"ETH": "<hex>", "BTC": "<hex>", "TRON": "<hex>"}``, mode 0600). Keys are handed to an
adapter at signing time and are never logged, stored in a model, passed to a task or shown.
"""

from __future__ import annotations

import json
import os
import secrets
from functools import lru_cache

from django.conf import settings


class HotKeyMissing(RuntimeError):
    pass


@lru_cache(maxsize=1)
def _key_file() -> dict[str, str]:
    path = settings.HOT_KEYS_FILE
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def hot_key(network_code: str) -> bytes:
    value = os.environ.get(f"HOT_KEY_{network_code}") or _key_file().get(network_code)
    if not value:
        raise HotKeyMissing(f"No hot key for {network_code}: set HOT_KEY_{network_code} or add it to "
                            f"{settings.HOT_KEYS_FILE}.")
    return bytes.fromhex(value.removeprefix("0x"))


def hot_address(network) -> str:
    """The hot wallet's address on a chains.Network (derived from the key, never stored)."""
    key = hot_key(network.code)
    if network.kind == "evm":
        from chains.adapters.evm.adapter import address_from_private_key

        return address_from_private_key(key)
    if network.kind == "utxo":
        from chains.adapters.bitcoin.codec import hot_wallet_address

        return hot_wallet_address(key, address_network=network.address_network)
    from chains.adapters.tron.codec import address_from_private_key as tron_address

    return tron_address(key)


def hot_keys_ensure(network_codes: list[str]) -> list[str]:
    """Create missing keys in the key file (demo and development). Returns the codes created."""
    path = settings.HOT_KEYS_FILE
    keys = json.loads(path.read_text()) if path.exists() else {}
    created = [code for code in network_codes if code not in keys and not os.environ.get(f"HOT_KEY_{code}")]
    for code in created:
        keys[code] = secrets.token_hex(32)
    if created:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(keys, indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(path)
        _key_file.cache_clear()
    return created
