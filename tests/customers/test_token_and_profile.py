"""Logging in to the App: username and password for a token, then the profile."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from tests.fixtures.factories import CustomerFactory, StaffFactory, UserFactory
from tests.fixtures.staff import login_verified_staff

pytestmark = pytest.mark.django_db


def login(api_client, username: str, password: str):
    return api_client.post("/api/v1/auth/token/", {"username": username, "password": password}, format="json")


def test_a_customer_logs_in_and_reads_their_profile(api_client, customer):
    response = login(api_client, customer.user.username, "pass-1234")
    assert response.status_code == 200
    token = response.json()["token"]
    assert Token.objects.get(user=customer.user).key == token

    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    profile = api_client.get("/api/v1/me/")
    assert profile.status_code == 200
    assert profile.json() == {
        "username": customer.user.username,
        "reference": customer.reference,
        "kyc_level": 1,
        "kyc_status": "approved",
        "may_withdraw": True,
        "venue": "HAS",
    }


def test_logging_in_again_issues_a_fresh_token_and_the_old_one_stops_working(api_client, customer):
    first = login(api_client, customer.user.username, "pass-1234").json()["token"]
    second = login(api_client, customer.user.username, "pass-1234").json()["token"]
    assert first != second
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert api_client.get("/api/v1/me/").json()["code"] == "unauthenticated"
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert api_client.get("/api/v1/me/").status_code == 200


def test_a_wrong_password_is_401_and_creates_no_token(api_client, customer):
    response = login(api_client, customer.user.username, "wrong")
    assert response.status_code == 401
    assert response.json() == {"code": "unauthenticated", "detail": "Wrong username or password.", "field": None}
    assert not Token.objects.exists()


def test_an_unknown_user_is_401(api_client):
    assert login(api_client, "nobody", "pass-1234").json()["code"] == "unauthenticated"


def test_an_inactive_customer_cannot_log_in(api_client):
    customer = CustomerFactory(user=UserFactory(username="gone", is_active=False))
    assert login(api_client, customer.user.username, "pass-1234").status_code == 401


def test_staff_get_no_api_token(api_client):
    staff = StaffFactory()
    response = login(api_client, staff.username, "pass-1234")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not Token.objects.filter(user=staff).exists()


def test_a_customer_sees_only_their_own_profile(api_client, tenant):
    alice, bob = CustomerFactory(tenant=tenant), CustomerFactory(tenant=tenant)
    api_client.force_authenticate(bob.user)
    assert api_client.get("/api/v1/me/").json()["reference"] == bob.reference != alice.reference


def test_the_profile_shows_pending_kyc(api_client, tenant):
    customer = CustomerFactory(tenant=tenant, kyc_status="pending", kyc_level=0)
    api_client.force_authenticate(customer.user)
    body = api_client.get("/api/v1/me/").json()
    assert (body["kyc_status"], body["kyc_level"], body["may_withdraw"]) == ("pending", 0, False)


def test_the_profile_costs_a_fixed_number_of_queries(api_client, customer, django_assert_max_num_queries):
    token = Token.objects.create(user=customer.user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    with django_assert_max_num_queries(3):
        assert api_client.get("/api/v1/me/").status_code == 200


def test_customer_admin_lists_and_searches(client, customer):
    admin_user = get_user_model().objects.create_superuser("root", "root@example.test", "pass-1234")
    login_verified_staff(client, admin_user)
    response = client.get("/admin/customers/customer/", {"q": customer.reference})
    assert response.status_code == 200
    assert customer.reference in response.content.decode()
    assert client.get("/admin/customers/tenant/").status_code == 200
