"""Writes to the chain reference data: fee estimates, opening and closing coins.

The kill switches (pause sending per network or everywhere) are ``chains.services.sending_pause_set``."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta
from decimal import ROUND_UP, Decimal

from django.contrib.admin.models import CHANGE, LogEntry
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from chains.adapters import ChainAdapter, PermanentChainError, TransientChainError, adapter_for, coin_config
from chains.models import Coin, KillSwitchChange, Network, SendingSwitch
from chains.signals import sending_resumed
from core.errors import DomainError
from core.fields import AMOUNT_PLACES

logger = logging.getLogger(__name__)

# Chain calls made on behalf of a web request run here, so the request can stop waiting.
_chain_calls = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chain-call")


def _fee_call(coin: Coin):
    """A function that asks the coin's chain for a fee estimate, rounded up to the fee
    currency's decimals. Built here (the database is read now); safe to run in another thread."""
    adapter = adapter_for(coin.network)
    config = coin_config(coin)
    step = Decimal(1).scaleb(-min(coin.fee_currency.decimals, AMOUNT_PLACES))

    def call() -> Decimal:
        fee = Decimal(adapter.estimate_fee(config))
        return fee.quantize(step, rounding=ROUND_UP)  # never under-reserve

    return call


def _store_estimate(coin: Coin, fee: Decimal) -> Decimal:
    now = timezone.now()
    Coin.objects.filter(pk=coin.pk).update(network_fee_estimate=fee, network_fee_estimated_at=now)
    coin.network_fee_estimate, coin.network_fee_estimated_at = fee, now
    return fee


def _read_estimates(coins: list[Coin], *, timeout: float | None) -> list[Coin]:
    """Ask each coin's chain for its fee, in parallel and within ``timeout`` seconds overall (no
    limit when None), and store what answers. Returns the coins whose node failed or was slow:
    each is logged and keeps its stored estimate."""
    failed: list[Coin] = []
    futures = []
    for coin in coins:
        try:
            futures.append((coin, _chain_calls.submit(_fee_call(coin))))
        except Exception as exc:  # noqa: BLE001 - e.g. no adapter for the network kind
            failed.append(_kept(coin, f"{type(exc).__name__}: {exc}"))
    deadline = None if timeout is None else time.monotonic() + timeout
    for coin, future in futures:
        try:
            fee = future.result(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            failed.append(_kept(coin, f"no answer from the node within {timeout}s"))
        except Exception as exc:  # noqa: BLE001 - any chain failure keeps the old value
            failed.append(_kept(coin, f"{type(exc).__name__}: {exc}"))
        else:
            _store_estimate(coin, fee)
    return failed


def _kept(coin: Coin, why: str) -> Coin:
    logger.warning("Fee estimate for %s failed (%s); keeping %s", coin, why, coin.network_fee_estimate)
    return coin


def coin_refresh_fee_estimate(*, coin: Coin, timeout: float | None = None) -> Decimal | None:
    """Read the network fee of one withdrawal of ``coin`` from its chain and store it.

    A chain error (or no answer within ``timeout`` seconds) leaves the stored estimate as it
    was, logs a warning, and returns the stored value.
    """
    _read_estimates([coin], timeout=timeout)
    return coin.network_fee_estimate


FAILED_ESTIMATE_BACKOFF_SECONDS = 30


def _backoff_key(coin: Coin) -> str:
    return f"chains:fee-estimate-backoff:{coin.pk}"


def coins_refresh_stale_fee_estimates(*, coins: list[Coin], max_age: timedelta, timeout: float) -> None:
    """Refresh, in parallel and within ``timeout`` seconds overall, the estimates older than
    ``max_age`` (or missing). Coins whose node fails or is slow keep their stored value, and are
    not asked again for FAILED_ESTIMATE_BACKOFF_SECONDS (so a dead node does not slow every request)."""
    cutoff = timezone.now() - max_age
    stale = [c for c in coins if c.network_fee_estimated_at is None or c.network_fee_estimated_at < cutoff]
    if stale:
        backing_off = cache.get_many([_backoff_key(c) for c in stale])
        stale = [c for c in stale if _backoff_key(c) not in backing_off]
    if not stale:
        return
    failed = _read_estimates(stale, timeout=timeout)
    if failed:
        cache.set_many({_backoff_key(c): True for c in failed}, FAILED_ESTIMATE_BACKOFF_SECONDS)


def _log_admin_change(*, actor, obj, message: str) -> None:
    """An entry in the object's admin history: who changed what, when."""
    if actor is not None:
        LogEntry.objects.log_actions(user_id=actor.pk, queryset=[obj], action_flag=CHANGE,
                                     change_message=message, single_object=True)


# --- what the chain must confirm before a coin opens or anything is signed -------------------------

def coin_chain_problem(*, coin: Coin, adapter: ChainAdapter | None = None) -> str:
    """Why the chain does not confirm ``coin``'s settings ("" when it does): an EVM node on another
    chain than ``Network.chain_id``; a token whose contract's ``decimals()`` is not the coin's
    ``chain_decimals``; a native coin whose chain decimals are not the network's own.

    Asks the node (reads only, no key). A node that cannot be reached raises
    TransientChainError: nothing is confirmed, the caller decides (the pipeline retries). A
    TRON token is not checked: the TRON backend has no constant-call answer for ``decimals()``.
    """
    network = coin.network
    adapter = adapter or adapter_for(network)
    if network.kind == Network.Kind.EVM:
        if network.chain_id is None:
            return f"{network.code} has no chain id configured."
        node_chain = adapter.node_chain_id()
        if node_chain != network.chain_id:
            return (f"the {network.code} node is on chain {node_chain}, but the network says chain "
                    f"{network.chain_id}: nothing is signed for the wrong chain.")
    if coin.is_token:
        try:
            on_chain = adapter.token_decimals(coin.contract_address)
        except PermanentChainError as error:
            return f"the token contract of {coin} cannot be checked: {error}"
        if on_chain is not None and on_chain != coin.chain_decimals:
            return (f"the token contract of {coin} has {on_chain} decimals, the coin says {coin.chain_decimals}: "
                    "fix the coin's chain decimals (amounts would be off by a factor of "
                    f"10^{abs(on_chain - coin.chain_decimals)}).")
    elif coin.chain_decimals != adapter.native_decimals:
        return (f"{coin} is {network.code}'s native coin with {adapter.native_decimals} decimals, the coin "
                f"says {coin.chain_decimals}.")
    return ""


def coin_verify_chain(*, coin: Coin) -> None:
    """``coin_chain_problem`` as a refusal: ``chain_mismatch`` (or a node that does not answer)."""
    try:
        problem = coin_chain_problem(coin=coin)
    except TransientChainError as error:
        raise DomainError("chain_mismatch", f"The {coin.network.code} node could not confirm {coin}'s settings: "
                                            f"{error}") from None
    if problem:
        raise DomainError("chain_mismatch", f"Refused: {problem}", field="chain_decimals")


def coin_set_enabled(*, coin: Coin, enabled: bool, actor=None) -> bool:
    """Open or close a coin for withdrawal. Returns whether anything changed.

    Opening needs a fee cap (``fee_cap_required``) and a chain that confirms the coin (chain id,
    token decimals: ``chain_mismatch``); a refusal changes nothing. Closing is always allowed."""
    with transaction.atomic():
        locked = Coin.objects.select_for_update().select_related("network", "currency").get(pk=coin.pk)
        if locked.enabled == enabled:
            return False
        if enabled:
            if locked.fee_cap is None:
                raise DomainError("fee_cap_required", f"{locked} cannot be enabled without a fee cap: set the most "
                                                      "network fee one withdrawal may pay first.", field="fee_cap")
            coin_verify_chain(coin=locked)
        locked.enabled = enabled
        locked.save(update_fields=["enabled"])
        _log_admin_change(actor=actor, obj=locked, message="Enabled for withdrawal." if enabled
                          else "Disabled for withdrawal.")
    coin.enabled = enabled
    return True


# --- kill switches ------------------------------------------------------------------------------

def sending_paused_reason(network: Network) -> str:
    """Why nothing may be sent on ``network`` now ("" when sending is on)."""
    if network.sending_paused:
        return f"Sending is paused on {network.code}."
    if SendingSwitch.objects.filter(pk=1, sending_paused=True).exists():
        return "Sending is paused on all networks."
    return ""


def sending_pause_set(*, network: Network | None, paused: bool, actor, reason: str) -> bool:
    """Flip a kill switch (``network=None``: the global one), audited. Returns False when it was
    already so. Resuming starts the send task for the approved orders that waited, on commit."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("validation_error", "Flipping a kill switch needs a reason.", field="reason")
    with transaction.atomic():
        if network is None:
            SendingSwitch.objects.get_or_create(pk=1)
            switch = SendingSwitch.objects.select_for_update().get(pk=1)
            if switch.sending_paused == paused:
                return False
            switch.sending_paused, switch.reason = paused, reason
            switch.changed_by, switch.changed_at = actor, timezone.now()
            switch.save()
        else:
            network = Network.objects.select_for_update().get(pk=network.pk)
            if network.sending_paused == paused:
                return False
            Network.objects.filter(pk=network.pk).update(sending_paused=paused)
        KillSwitchChange.objects.create(network=network, paused=paused, actor=actor, reason=reason)
        if not paused:
            code = network.code if network is not None else None
            transaction.on_commit(lambda: sending_resumed.send(sender=Network, network_code=code))
    logger.info("kill switch %s %s by %s: %s", network.code if network else "ALL",
                "paused" if paused else "resumed", actor, reason)
    return True
