"""From ledger postings to tax events: the one place that knows what each entry kind means for a
customer's coins (docs/TAX.md, "What counts").

Pure: it reads plain ``Posting`` records (built from ``ledger.JournalEntry`` rows and the
customer's legs by ``tax.selectors.customer_postings``, or in memory by tests) and returns
``TaxEvent``s for ``tax.cost_basis``. The quantity that moved is the customer's legs (the
ledger's truth); prices, costs and fees come from the entry's ``request`` (the normalised
arguments the posting service stored).

Entry kinds and what they are for the customer whose accounts moved:

* ``deposit``: an acquisition. Cost: the ``cost`` staff stated (``cost_fiat`` = the report's
  fiat), else the quantity at the price then, else unknown (flagged, never zero).
* ``settle`` (a withdrawal left): to the customer's own address (``own_withdrawal_refs``: proven
  by signature or micropayment, or the travel-rule beneficiary is the customer) a transfer out,
  its cost basis carried, not realised; to anyone else a disposal at the price then.
* ``sell`` (the fiat cash-out; contract ``sell:<id>``): a disposal at the executed ``price``;
  proceeds ``fiat_amount`` (net of fiat fees) when the sell's fiat is the report's.
* ``p2p_release`` (contract ``p2p:trade:<id>:release``): a disposal for ``seller``, an
  acquisition for ``buyer``, at the trade ``price``; ``fee`` paid by ``fee_payer``.
* ``hold`` / ``release``: available ↔ held, no change of ownership (their legs net to zero).
* any other kind that moves the customer's coins: an acquisition or disposal at the price then,
  flagged ``unrecognised entry kind`` so nobody mistakes it for a checked one.

Crypto fees (withdrawal fee, a sell's or P2P seller's fee) follow ``fee_as``: ``"cost"`` (the fee
coins leave with the move and their cost basis is added to it: a larger cost basis for a
disposal, a larger carried basis for a transfer) or ``"disposal"`` (the fee coins are a disposal
of their own at the market value, ``source="fee"``, with the value also shown as ``fee_value``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

FIAT_QUANTUM = Decimal("0.01")

FEE_AS = ("cost", "disposal")

# Entry kinds that never change who owns the coins.
NEUTRAL_KINDS = frozenset({"hold", "release"})


@dataclass(frozen=True)
class Posting:
    """One ledger entry as seen from one customer: ``delta`` is the net change of that
    customer's coins (available + held, all instruments of the currency), + in, − out."""

    entry_id: int
    kind: str
    reference: str
    created_at: datetime
    currency: str
    request: dict
    delta: Decimal


@dataclass(frozen=True)
class TaxEvent:
    """``acquisition`` (value = cost), ``disposal`` (value = proceeds) or ``transfer`` (no value).
    ``value`` None: unknown (no price), flagged. ``fee_quantity``: coins that leave with the move
    and whose basis is added to it (fee as cost)."""

    kind: str
    at: datetime
    seq: int
    reference: str
    currency: str
    quantity: Decimal
    value: Decimal | None
    source: str
    fee_quantity: Decimal = Decimal(0)
    fee_value: Decimal | None = None
    flags: tuple[str, ...] = field(default=())


PriceAt = Callable[[str, str, datetime], Decimal | None]


def fiat(value: Decimal) -> Decimal:
    return value.quantize(FIAT_QUANTUM, rounding=ROUND_HALF_EVEN)


def _decimal(request: dict, key: str, default: Decimal | None = None) -> Decimal | None:
    raw = request.get(key)
    if raw in (None, ""):
        return default
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return default
    return value if value.is_finite() else default


def _times(quantity: Decimal, price: Decimal | None) -> Decimal | None:
    return None if price is None else fiat(quantity * price)


def events_from_postings(postings: Iterable[Posting], *, customer_id: int, fiat_code: str, price_at: PriceAt,
                         own_withdrawal_refs: frozenset[str] | set[str] = frozenset(),
                         fee_as: str = "cost") -> list[TaxEvent]:
    """The customer's tax events, in posting order (``created_at``, entry id)."""
    if fee_as not in FEE_AS:
        raise ValueError(f"fee_as must be one of {FEE_AS}")
    events: list[TaxEvent] = []
    for posting in sorted(postings, key=lambda p: (p.created_at, p.entry_id)):
        if posting.delta == 0 or posting.kind in NEUTRAL_KINDS:
            continue
        handler = _HANDLERS.get(posting.kind, _other)
        events.extend(handler(posting, customer_id=customer_id, fiat_code=fiat_code, price_at=price_at,
                              own=posting.reference in own_withdrawal_refs, fee_as=fee_as))
    return events


def _event(posting: Posting, kind: str, quantity: Decimal, value: Decimal | None, source: str, *flags: str,
           fee_quantity: Decimal = Decimal(0), fee_value: Decimal | None = None) -> TaxEvent:
    unknown = () if value is not None or kind == "transfer" else (
        ("cost unknown",) if kind == "acquisition" else ("proceeds unknown",))
    return TaxEvent(kind=kind, at=posting.created_at, seq=posting.entry_id, reference=posting.reference,
                    currency=posting.currency, quantity=quantity, value=value, source=source,
                    fee_quantity=fee_quantity, fee_value=fee_value, flags=tuple(dict.fromkeys((*flags, *unknown))))


def _fee_events(posting: Posting, main: TaxEvent, fee: Decimal, fee_price: Decimal | None, fee_as: str
                ) -> list[TaxEvent]:
    """The main move plus its crypto fee, per ``fee_as``."""
    if fee <= 0:
        return [main]
    fee_value = _times(fee, fee_price)
    if fee_as == "cost":
        return [TaxEvent(**{**main.__dict__, "fee_quantity": fee, "fee_value": fee_value})]
    return [main, _event(posting, "disposal", fee, fee_value, "fee", fee_value=fee_value)]


def _deposit(posting: Posting, *, fiat_code: str, price_at: PriceAt, **_) -> list[TaxEvent]:
    quantity = posting.delta
    if quantity < 0:
        return _other(posting, fiat_code=fiat_code, price_at=price_at)
    cost = _decimal(posting.request, "cost")
    if cost is not None and str(posting.request.get("cost_fiat", "")).upper() == fiat_code:
        return [_event(posting, "acquisition", quantity, fiat(cost), "deposit", "cost stated by staff")]
    flags = ("cost in another fiat: valued at the price then",) if cost is not None else ()
    price = price_at(posting.currency, fiat_code, posting.created_at)
    return [_event(posting, "acquisition", quantity, _times(quantity, price), "deposit",
                   *flags, *(() if price is None else ("cost at the price then",)))]


def _settle(posting: Posting, *, fiat_code: str, price_at: PriceAt, own: bool, fee_as: str, **_) -> list[TaxEvent]:
    total = -posting.delta
    if total <= 0:
        return _other(posting, fiat_code=fiat_code, price_at=price_at)
    fee = min(_decimal(posting.request, "customer_fee", Decimal(0)), total)
    principal = total - fee
    price = price_at(posting.currency, fiat_code, posting.created_at)
    if principal <= 0:  # only a fee left: it is the fee's move
        return [_event(posting, "disposal", fee, _times(fee, price), "fee", fee_value=_times(fee, price))]
    if own:
        main = _event(posting, "transfer", principal, None, "withdrawal to own address")
    else:
        main = _event(posting, "disposal", principal, _times(principal, price), "withdrawal",
                      "withdrawal to a third party: valued at the price then")
    return _fee_events(posting, main, fee, price, fee_as)


def _trade_value(quantity: Decimal, request: dict, fiat_code: str, posting: Posting, price_at: PriceAt
                 ) -> tuple[Decimal | None, Decimal | None, tuple[str, ...]]:
    """(value, unit price) in the report's fiat: the trade's price when it is in that fiat, else
    the price history's then (flagged)."""
    trade_fiat = str(request.get("fiat", "")).upper()
    price = _decimal(request, "price")
    if trade_fiat == fiat_code and price is not None:
        return _times(quantity, price), price, ()
    price = price_at(posting.currency, fiat_code, posting.created_at)
    return _times(quantity, price), price, (f"trade in {trade_fiat or '?'}: valued at the {fiat_code} price then",)


def _sell(posting: Posting, *, fiat_code: str, price_at: PriceAt, fee_as: str, **_) -> list[TaxEvent]:
    request = posting.request
    amount = _decimal(request, "amount", -posting.delta)
    fee = _decimal(request, "fee", Decimal(0))
    flags = () if amount + fee == -posting.delta else ("ledger legs differ from the sell's amount",)
    value, price, more = _trade_value(amount, request, fiat_code, posting, price_at)
    fiat_amount = _decimal(request, "fiat_amount")
    if not more and fiat_amount is not None:
        value = fiat(fiat_amount)  # what was received, net of fiat fees
    main = _event(posting, "disposal", amount, value, "sell", *flags, *more)
    return _fee_events(posting, main, fee, price, fee_as)


def _p2p_release(posting: Posting, *, customer_id: int, fiat_code: str, price_at: PriceAt, fee_as: str, **_
                 ) -> list[TaxEvent]:
    request = posting.request
    amount = _decimal(request, "amount", abs(posting.delta))
    fee = _decimal(request, "fee", Decimal(0))
    buyer_pays = request.get("fee_payer") == "buyer"
    if str(request.get("buyer")) == str(customer_id) and posting.delta > 0:
        # The buyer paid for what was released, the fee included when the buyer bears it.
        value, _, flags = _trade_value(amount + fee if buyer_pays else amount, request, fiat_code, posting, price_at)
        return [_event(posting, "acquisition", posting.delta, value, "p2p purchase", *flags)]
    if str(request.get("seller")) == str(customer_id) and posting.delta < 0:
        if buyer_pays:  # the buyer paid for the fee coins too: all of it is sold
            value, _, flags = _trade_value(amount + fee, request, fiat_code, posting, price_at)
            return [_event(posting, "disposal", amount + fee, value, "p2p sale", *flags)]
        value, price, flags = _trade_value(amount, request, fiat_code, posting, price_at)
        return _fee_events(posting, _event(posting, "disposal", amount, value, "p2p sale", *flags), fee, price,
                           fee_as)
    return _other(posting, fiat_code=fiat_code, price_at=price_at)


def _other(posting: Posting, *, fiat_code: str, price_at: PriceAt, **_) -> list[TaxEvent]:
    price = price_at(posting.currency, fiat_code, posting.created_at)
    quantity = abs(posting.delta)
    kind = "acquisition" if posting.delta > 0 else "disposal"
    return [_event(posting, kind, quantity, _times(quantity, price), posting.kind,
                   f"unrecognised entry kind {posting.kind!r}: valued at the price then")]


_HANDLERS = {"deposit": _deposit, "settle": _settle, "sell": _sell, "p2p_release": _p2p_release}
