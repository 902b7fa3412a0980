"""The order list and the order page at scale: constant queries, capped counts (no full COUNT),
index-backed search (id, tx hash, address, customer; exact or prefix), the staff filters, the
timeline with explorer links and the actions allowed now, which pause holds an order; the
journal list without a query per row."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from chains.models import SendingSwitch
from ledger.services import ledger_transfer
from tests.fixtures.factories import AddressFactory, CoinFactory, CustomerFactory, NetworkFactory, StaffFactory
from tests.fixtures.staff import login_verified_staff
from withdrawals.models import WithdrawalOrder, WithdrawalStatusChange, WithdrawalTransaction

pytestmark = pytest.mark.django_db
LIST = "admin:withdrawals_withdrawalorder_changelist"


def _orders(coin, count: int, status: str = "confirming", *, customer=None, amount="0.5", **fields):
    customer = customer or CustomerFactory()
    address = AddressFactory(customer=customer, network=coin.network)
    orders = WithdrawalOrder.objects.bulk_create([WithdrawalOrder(
        customer=customer, coin=coin, address=address, destination=address.address, amount=Decimal(amount),
        customer_fee=Decimal(0), network_fee_estimate=Decimal("0.01"), status=status, **fields)
        for _ in range(count)])
    WithdrawalStatusChange.objects.bulk_create([WithdrawalStatusChange(order=o, from_status="", to_status=status)
                                                for o in orders])
    return orders


@pytest.fixture
def staff(client):
    user = StaffFactory(is_superuser=True)
    login_verified_staff(client, user)
    client.get(reverse(LIST))  # warm the content-type and permission caches
    return user


def _queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, params or {}).status_code == 200
    return len(queries)


def test_the_order_list_queries_do_not_grow_and_nothing_counts_every_row(client, staff):
    coin = CoinFactory()
    _orders(coin, 3)
    few = _queries(client, reverse(LIST))
    for _ in range(4):
        _orders(CoinFactory(), 30)
    with CaptureQueriesContext(connection) as many:
        assert client.get(reverse(LIST)).status_code == 200
    assert len(many) == few, "\n".join(q["sql"][:150] for q in many.captured_queries)
    sqls = [q["sql"] for q in many.captured_queries]
    # No full COUNT(*) of the table: a capped count of a LIMITed subquery, or the planner's estimate.
    assert not [s for s in sqls if "COUNT(*)" in s and "withdrawals_withdrawalorder" in s and "LIMIT" not in s]
    assert not [s for s in sqls if "DATE_TRUNC" in s.upper()]  # no date hierarchy
    # filtered lists and searches: the same number of queries whatever the rows
    # filtered lists: a capped count instead of the estimate, the same number whatever the filter
    filtered = {_queries(client, reverse(LIST), params)
                for params in ({"status__exact": "confirming"}, {"amount": "0.1-1"}, {"age": "1h"})}
    assert len(filtered) == 1 and filtered.pop() <= few


def test_the_list_stops_at_the_cap_and_says_so(client, staff, settings):
    settings.ADMIN_LIST_MAX_ROWS = 20
    _orders(CoinFactory(), 25)
    page = client.get(reverse(LIST), {"status__exact": "confirming"})
    assert page.context["cl"].result_count == 20
    assert "Showing the first 20" in page.content.decode()


def test_search_by_id_tx_hash_address_and_customer_exact_or_prefix(client, staff):
    coin = CoinFactory()
    customer = CustomerFactory(reference="CUST-7788")
    target, other = _orders(coin, 2, customer=customer)
    _orders(coin, 3)
    WithdrawalOrder.objects.filter(pk=target.pk).update(tx_hash="0x" + "ab" * 32)
    WithdrawalTransaction.objects.create(order=other, tx_hash="0x" + "cd" * 32, raw="00", sender="s",
                                         max_fee=Decimal("0.001"))

    def found(term):
        return sorted(o.pk for o in client.get(reverse(LIST), {"q": term}).context["cl"].result_list)

    assert found(f"W{target.pk}") == [target.pk] and found(str(target.pk)) == [target.pk]
    assert found("0x" + "ab" * 32) == [target.pk] and found("0xabababab") == [target.pk]
    assert found("0xABABABAB") == [target.pk]  # a hash typed in capitals
    assert found("0xcdcdcdcd") == [other.pk]  # any candidate's hash, not only the current one
    assert found(target.destination) == sorted([target.pk, other.pk])  # the customer's one address
    WithdrawalOrder.objects.filter(pk=other.pk).update(destination="0x" + "ef" * 20)
    assert found("0xefefef") == [other.pk]  # an address by its beginning
    assert found("CUST-77") == sorted([target.pk, other.pk]) and found(customer.user.username) == sorted(
        [target.pk, other.pk])
    assert found("zzzz-nothing") == []


def test_search_sql_is_index_backed_prefixes_not_substrings(client, staff):
    _orders(CoinFactory(), 2)
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse(LIST), {"q": "0xabcdef12"})
    sqls = " ".join(q["sql"] for q in queries.captured_queries)
    assert "LIKE '%%" not in sqls and "LIKE '%" not in sqls and "UPPER(" not in sqls


def test_staff_filters_coin_network_amount_age_customer(client, staff):
    coin = CoinFactory()
    other_coin = CoinFactory(network=NetworkFactory(code="ETH2", name="second"))
    small = _orders(coin, 1, amount="0.5")[0]
    big = _orders(other_coin, 1, amount="5000")[0]
    WithdrawalOrder.objects.filter(pk=big.pk).update(created_at=timezone.now() - timedelta(days=3))

    def listed(params):
        return [o.pk for o in client.get(reverse(LIST), params).context["cl"].result_list]

    assert listed({"amount": "1000-"}) == [big.pk] and listed({"amount": "-1"}) == [small.pk]
    assert listed({"coin__id__exact": coin.pk}) == [small.pk]
    assert listed({"coin__network__id__exact": other_coin.network_id}) == [big.pk]
    assert listed({"age": "7d"}) == [big.pk] and listed({"age": "1h"}) == [small.pk]
    assert listed({"customer": small.customer_id}) == [small.pk]


def test_the_order_page_has_one_timeline_with_explorer_links_and_constant_queries(client, staff):
    coin = CoinFactory()
    coin.network.explorer_tx_url = "https://explorer.example/tx/{tx}"
    coin.network.save()
    (order,) = _orders(coin, 1, tx_hash="0x" + "11" * 32, confirmations=1)
    page_url = reverse("admin:withdrawals_withdrawalorder_change", args=[order.pk])
    WithdrawalTransaction.objects.create(order=order, tx_hash="0x" + "11" * 32, raw="00", sender="s",
                                         max_fee=Decimal("0.001"), nonce=4)
    ledger_transfer(tenant=order.customer.tenant, currency=coin.fee_currency.code, amount=Decimal("1"),
                    kind="main_topup", reference=f"withdrawal:{order.pk}:test")
    client.get(page_url)
    with CaptureQueriesContext(connection) as few:
        page = client.get(page_url)
    html = page.content.decode()
    kinds = [e.kind for e in page.context["timeline"]]
    assert {"request", "transaction", "confirmation", "ledger"} <= set(kinds)
    assert 'href="https://explorer.example/tx/0x' + "11" * 32 + '"' in html
    assert 'name="_bump_fee"' in html and 'name="_rebroadcast"' in html  # confirming: these are allowed now
    assert 'name="_resubmit_after_topup"' not in html
    for n in range(2, 6):  # more candidates, more history, more entries: the same queries
        WithdrawalTransaction.objects.create(order=order, tx_hash=f"0x{n:064x}", raw="00", sender="s",
                                             max_fee=Decimal("0.001"), nonce=4, fee_bump=n)
        WithdrawalStatusChange.objects.create(order=order, from_status="confirming", to_status="confirming",
                                              reason=f"note {n}")
        ledger_transfer(tenant=order.customer.tenant, currency=coin.fee_currency.code, amount=Decimal("1"),
                        kind="main_topup", reference=f"withdrawal:{order.pk}:test{n}")
    with CaptureQueriesContext(connection) as many:
        client.get(page_url)
    assert len(many) == len(few), "\n".join(q["sql"][:150] for q in many.captured_queries)


def test_a_paused_order_says_which_pause_holds_it(client, staff):
    coin = CoinFactory()
    (order,) = _orders(coin, 1, "approved")
    page_url = reverse("admin:withdrawals_withdrawalorder_change", args=[order.pk])
    assert "Held:" not in client.get(page_url).content.decode()
    coin.network.sending_paused = True
    coin.network.save()
    assert f"paused on {coin.network.code}" in client.get(reverse(LIST)).content.decode()
    SendingSwitch.objects.update_or_create(pk=1, defaults={"sending_paused": True})
    assert "ALL networks (global switch)" in client.get(page_url).content.decode()
    assert "ALL networks (global switch)" in client.get(reverse(LIST)).content.decode()


def test_the_journal_list_has_no_query_per_row(client, staff):
    from customers.models import Tenant

    tenant = Tenant.objects.first() or CustomerFactory().tenant
    url = reverse("admin:ledger_journalentry_changelist")
    ledger_transfer(tenant=tenant, currency=CoinFactory().fee_currency.code, amount=Decimal("1"),
                    kind="main_topup", reference="j-0")
    client.get(url)
    few = _queries(client, url)
    for n in range(1, 30):
        ledger_transfer(tenant=tenant, currency="ETH", amount=Decimal("1"), kind="main_topup", reference=f"j-{n}")
    assert _queries(client, url) == few
    found = client.get(url, {"q": "j-1"}).context["cl"].result_list
    assert sorted(e.reference for e in found) == sorted(["j-1", *(f"j-1{n}" for n in range(10))])
