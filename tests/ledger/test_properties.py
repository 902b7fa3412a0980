"""Property test: random sequences of deposits, holds, releases, settles and fee moves keep the
ledger consistent (``ledger_check() == []``) and match a simple model of the balances."""

from decimal import Decimal

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import DomainError
from ledger.selectors import customer_balances, ledger_check, tenant_fee_reserve
from ledger.services import (
    ledger_deposit,
    ledger_fee_book,
    ledger_fee_release,
    ledger_fee_reserve,
    ledger_hold,
    ledger_release,
    ledger_settle,
    ledger_transfer,
)

amounts = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("3"), places=3)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), st.sampled_from(["USD", "HKD"]), amounts),
        st.tuples(st.just("hold"), amounts),
        st.tuples(st.just("release"), st.integers(0, 20)),
        st.tuples(st.just("settle"), st.integers(0, 20), st.decimals(min_value=0, max_value=Decimal("0.01"),
                                                                      places=3)),
        st.tuples(st.just("topup"), amounts),
        st.tuples(st.just("sub_to_main"), amounts),
        st.tuples(st.just("fee_reserve"), amounts),
        st.tuples(st.just("fee_release"), st.integers(0, 20)),
        st.tuples(st.just("fee_book"), st.integers(0, 20), amounts),
        st.tuples(st.just("replay"), st.integers(0, 50)),
    ),
    min_size=1, max_size=14,
)


class Rollback(Exception):
    pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_random_postings_keep_the_ledger_consistent(customer, eth, ops):
    tenant = customer.tenant
    try:
        with transaction.atomic():  # every example starts from an empty ledger
            run(customer, tenant, eth, ops)
            raise Rollback
    except Rollback:
        pass


def run(customer, tenant, eth, ops):
    holds: list[list] = []       # open holds (splits)
    reserves: list[Decimal] = []  # open fee reserves
    calls: list[tuple] = []       # (function, kwargs) already posted, for replays
    model = {"available": Decimal(0), "held": Decimal(0), "main": Decimal(0), "reserved": Decimal(0),
             "sub": Decimal(0), "expense": Decimal(0), "shortfall": Decimal(0), "revenue": Decimal(0)}

    def post(function, **kwargs):
        reference = f"p{len(calls)}"
        result = function(**kwargs, reference=reference)
        calls.append((function, kwargs, reference, result))
        return result

    for op in ops:
        kind = op[0]
        try:
            if kind == "deposit":
                post(ledger_deposit, customer=customer, currency=eth, quote=op[1], amount=op[2])
                model["available"] += op[2]
                model["sub"] += op[2]
            elif kind == "hold":
                split = post(ledger_hold, customer=customer, currency=eth, amount=op[1])
                assert sum(line.amount for line in split) == op[1]
                holds.append(split)
                model["available"] -= op[1]
                model["held"] += op[1]
            elif kind in ("release", "settle") and holds:
                split = holds.pop(op[1] % len(holds))
                total = sum(line.amount for line in split)
                if kind == "release":
                    post(ledger_release, customer=customer, currency=eth, split=split)
                    model["available"] += total
                else:
                    fee = min(op[2], total / 2)
                    post(ledger_settle, customer=customer, currency=eth, split=split, customer_fee=fee)
                    model["sub"] -= total - fee
                    model["revenue"] += fee
                model["held"] -= total
            elif kind == "topup":
                post(ledger_transfer, tenant=tenant, currency=eth, amount=op[1], kind="main_topup")
                repay = min(model["shortfall"], op[1])
                model["main"] += op[1] - repay
                model["shortfall"] -= repay
            elif kind == "sub_to_main":
                post(ledger_transfer, tenant=tenant, currency=eth, amount=op[1], kind="sub_to_main")
                repay = min(model["shortfall"], op[1])
                model["sub"] -= op[1]
                model["main"] += op[1] - repay
                model["shortfall"] -= repay
            elif kind == "fee_reserve":
                post(ledger_fee_reserve, tenant=tenant, currency=eth, amount=op[1])
                reserves.append(op[1])
                model["main"] -= op[1]
                model["reserved"] += op[1]
            elif kind in ("fee_release", "fee_book") and reserves:
                reserved = reserves.pop(op[1] % len(reserves))
                if kind == "fee_release":
                    post(ledger_fee_release, tenant=tenant, currency=eth, amount=reserved)
                    model["main"] += reserved
                else:
                    post(ledger_fee_book, tenant=tenant, currency=eth, reserved=reserved, actual=op[2])
                    covered = min(op[2], model["main"] + reserved)
                    model["main"] += reserved - covered
                    model["shortfall"] += op[2] - covered
                    model["expense"] += op[2]
                model["reserved"] -= reserved
            elif kind == "replay" and calls:
                function, kwargs, reference, result = calls[op[1] % len(calls)]
                again = function(**kwargs, reference=reference)
                assert again == result if isinstance(result, list) else again.pk == result.pk
        except DomainError as exc:
            # Only refusals for want of funds are expected, and they change nothing.
            assert exc.code in {"insufficient_balance", "insufficient_main_account_fees"}, exc
            assert kind in {"hold", "sub_to_main", "fee_reserve"}, (kind, exc)
        assert ledger_check() == []

    balances = customer_balances(customer=customer)
    if balances:
        assert (balances[0]["available"], balances[0]["held"]) == (model["available"], model["held"])
    reserve = tenant_fee_reserve(tenant=tenant, currency=eth)
    assert {k: reserve[k] for k in ("main", "reserved", "sub_account", "expense", "shortfall", "revenue")} == {
        "main": model["main"], "reserved": model["reserved"], "sub_account": model["sub"],
        "expense": model["expense"], "shortfall": model["shortfall"], "revenue": model["revenue"]}
    for value in (*model.values(),):
        assert value >= 0
