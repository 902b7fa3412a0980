"""Hot-wallet keys: from the environment or a key file outside the repository, never the database.

``HOT_KEY_<NETWORK>`` (hex) wins; otherwise the JSON file at settings.HOT_KEYS_FILE
(``{"ETH": "<hex>", "BTC": "<hex>", "TRON": "<hex>"}``, mode 0600). Keys are handed to an
adapter at signing time and are never logged, stored in a model, passed to a task or shown.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.views.decorators.debug import sensitive_variables


class HotKeyMissing(RuntimeError):
    pass


class HotKeyFileUnsafe(HotKeyMissing):
    """The key file is readable by others or owned by another user: no key is taken from it."""


def _check_key_file(path: Path, info: os.stat_result) -> None:
    """Refuse a key file that anyone but the running user could read or have written."""
    if not stat.S_ISREG(info.st_mode):
        raise HotKeyFileUnsafe(f"The hot key file {path} is not a regular file; no key is read from it.")
    if info.st_uid != os.geteuid():
        raise HotKeyFileUnsafe(f"The hot key file {path} is owned by uid {info.st_uid}, not by the user running "
                               f"the console (uid {os.geteuid()}); no key is read from it. Fix: chown it.")
    if info.st_mode & 0o077:
        raise HotKeyFileUnsafe(f"The hot key file {path} has mode {stat.S_IMODE(info.st_mode):04o}; it must be 0600 "
                               f"(no access for group or others); no key is read from it. Fix: chmod 600 {path}")


@lru_cache(maxsize=1)
@sensitive_variables()
def _key_file() -> dict[str, str]:
    path = settings.HOT_KEYS_FILE
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except (FileNotFoundError, NotADirectoryError):  # no file (web and beat get a path none can exist at)
        return {}
    with os.fdopen(fd) as handle:  # the checks and the read are of the same open file
        _check_key_file(path, os.fstat(handle.fileno()))
        return json.loads(handle.read())


@sensitive_variables()
def hot_key(network_code: str) -> bytes:
    value = os.environ.get(f"HOT_KEY_{network_code}") or _key_file().get(network_code)
    if not value:
        raise HotKeyMissing(f"No hot key for {network_code}: set HOT_KEY_{network_code} or add it to "
                            f"{settings.HOT_KEYS_FILE}.")
    return bytes.fromhex(value.removeprefix("0x"))


@sensitive_variables("key")
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


@sensitive_variables()
def hot_keys_ensure(network_codes: list[str]) -> list[str]:
    """Create missing keys in the key file (demo and development). Returns the codes created.

    An existing file must be safe (0600, ours: HotKeyFileUnsafe otherwise). The new file is never
    readable by anyone else, not even for a moment: a fresh temporary file created 0600 with
    O_CREAT|O_EXCL, written, fsynced, then renamed over the old one."""
    path = settings.HOT_KEYS_FILE
    _key_file.cache_clear()
    keys = dict(_key_file())
    created = [code for code in network_codes if code not in keys and not os.environ.get(f"HOT_KEY_{code}")]
    for code in created:
        keys[code] = secrets.token_hex(32)
    if created:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(json.dumps(keys, indent=2))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash
        finally:
            os.close(directory)
        _key_file.cache_clear()
    return created
