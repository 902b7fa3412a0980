"""Screening of destination addresses before any human step (withdrawals).

A provider scores ``(network_code, address)`` and answers accept, alert or reject. The shipped
provider (``risk_list``) looks the address up in ``RiskListEntry``, the list compliance keeps in
the admin. Another provider (a chain-analytics vendor) registers with ``register_provider`` and
is chosen with ``settings.SCREENING_PROVIDER`` (a registered name or a dotted path to a class).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Protocol

from django.conf import settings
from django.db.models import Exists, Q
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

ACCEPT, ALERT, REJECT = "accept", "alert", "reject"
OUTCOMES = (ACCEPT, ALERT, REJECT)


@dataclass(frozen=True)
class ScreeningResult:
    outcome: str  # accept | alert | reject
    reason: str = ""
    hits: list[dict] = field(default_factory=list)
    provider: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


class ScreeningProvider(Protocol):
    name: str

    def score(self, network_code: str, address: str) -> ScreeningResult: ...


class RiskListProvider:
    """Scores against ``RiskListEntry`` rows (active, on this network or on every network).

    Any sanctions entry, or a severe one: reject. High or medium: alert (the compliance step
    applies). Low: accept, with the hit recorded.
    """

    name = "risk_list"

    def score(self, network_code: str, address: str) -> ScreeningResult:
        from approvals.models import RiskListEntry
        from chains.models import Network

        address = (address or "").strip()
        # EVM addresses are hex: the checksum case carries no meaning. Base58 is case-sensitive.
        # The network's kind is asked inside the same query (one statement per screening).
        is_evm = Exists(Network.objects.filter(code=network_code, kind=Network.Kind.EVM))
        match = Q(address=address) | (Q(address__iexact=address) & Q(is_evm))
        entries = list(
            RiskListEntry.objects.filter(match, Q(network__isnull=True) | Q(network__code=network_code), active=True,
                                         kind=RiskListEntry.Kind.ADDRESS)
            .order_by("id")
        )
        hits = [{"id": e.pk, "category": e.category, "level": e.level, "source": e.source} for e in entries]
        if not entries:
            return ScreeningResult(ACCEPT, "No risk-list match.", [], self.name)
        describe = "; ".join(f"{e.get_category_display()} ({e.get_level_display().lower()})" for e in entries)
        L, C = RiskListEntry.Level, RiskListEntry.Category  # noqa: N806
        if any(e.category == C.SANCTIONS or e.level == L.SEVERE for e in entries):
            return ScreeningResult(REJECT, f"Destination is on the risk list: {describe}.", hits, self.name)
        if any(e.level in (L.HIGH, L.MEDIUM) for e in entries):
            return ScreeningResult(ALERT, f"Destination is on the risk list: {describe}.", hits, self.name)
        return ScreeningResult(ACCEPT, f"Low-risk match recorded: {describe}.", hits, self.name)


_PROVIDERS: dict[str, type] = {"risk_list": RiskListProvider}


def register_provider(name: str, provider_class: type) -> None:
    _PROVIDERS[name] = provider_class


def get_provider() -> ScreeningProvider:
    name = getattr(settings, "SCREENING_PROVIDER", "risk_list")
    provider_class = _PROVIDERS.get(name) or import_string(name)
    return provider_class()


def screen(network_code: str, address: str) -> ScreeningResult:
    """Score with the configured provider. A provider that fails raises an alert (a person
    looks at it) instead of letting the withdrawal through unscreened or blocking the App."""
    try:
        provider = get_provider()
        result = provider.score(network_code, address)
    except Exception as exc:  # noqa: BLE001 - any provider failure is an alert, never an accept
        logger.exception("screening provider failed for %s:%s", network_code, address)
        return ScreeningResult(ALERT, f"Screening unavailable ({type(exc).__name__}); review manually.", [],
                               getattr(settings, "SCREENING_PROVIDER", "risk_list"))
    if result.outcome not in OUTCOMES:
        return ScreeningResult(ALERT, f"Screening answered {result.outcome!r}; review manually.", list(result.hits),
                               result.provider)
    return result
