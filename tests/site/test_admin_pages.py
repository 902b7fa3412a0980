"""Every admin page a staff member can reach renders: lists, change pages, add pages."""

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse

pytestmark = [pytest.mark.django_db, pytest.mark.chain]


@pytest.fixture
def demo(demo_chain_env, monkeypatch):
    call_command("seed_demo", demo=True, verbosity=0)
    from customers.models import Customer
    from withdrawals.models import CustomerAddress
    from withdrawals.services.orders import withdrawal_request

    monkeypatch.setattr("withdrawals.services.orders.totp_verify", lambda *, customer, code: None)
    alice = Customer.objects.get(user__username="alice")
    address = CustomerAddress.objects.filter(customer=alice, network__code="ETH").get()
    withdrawal_request(customer=alice, idempotency_key="admin-smoke", currency="ETH", network="ETH",
                       address_id=address.pk, amount="0.1", otp="x")


def test_every_admin_page_renders_for_a_superuser(demo, admin_client, admin_user):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    assert admin_client.get(reverse("admin:index")).status_code == 200
    failures = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        pages = [_url(opts, "changelist")]
        obj = model_admin.get_queryset(request).first()
        if obj is not None:
            pages.append(_url(opts, "change", obj.pk))
        if model_admin.has_add_permission(request):
            pages.append(_url(opts, "add"))
        for page in filter(None, pages):
            status = admin_client.get(page, follow=True).status_code
            if status != 200:
                failures.append((page, status))
    assert failures == []


def _url(opts, view: str, *args) -> str | None:
    """The admin URL of a view, or None where the model admin routes no such view."""
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)
    except NoReverseMatch:
        return None
