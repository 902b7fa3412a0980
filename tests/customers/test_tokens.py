"""App tokens expire after API_TOKEN_TTL and die on logout; passwords meet Django's validators."""

from datetime import timedelta

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.authtoken.models import Token

from tests.fixtures.factories import UserFactory
from withdrawals_site.demo import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


def login(api_client, customer) -> str:
    response = api_client.post("/api/v1/auth/token/", {"username": customer.user.username, "password": "pass-1234"},
                               format="json")
    assert response.status_code == 200
    return response.json()["token"]


def age_token(key: str, age: timedelta) -> None:
    Token.objects.filter(key=key).update(created=timezone.now() - age)


def test_a_token_works_until_its_ttl_then_answers_token_expired(api_client, customer, settings):
    assert settings.API_TOKEN_TTL == timedelta(hours=24)
    key = login(api_client, customer)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    age_token(key, timedelta(hours=23, minutes=59))
    assert api_client.get("/api/v1/me/").status_code == 200
    age_token(key, timedelta(hours=24, seconds=1))
    response = api_client.get("/api/v1/me/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert response.json() == {"code": "token_expired", "detail": "The token has expired; log in again.",
                               "field": None}
    # Every App endpoint, not only /me/.
    assert api_client.get("/api/v1/balances/").json()["code"] == "token_expired"
    # Logging in again gives a working token.
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {login(api_client, customer)}")
    assert api_client.get("/api/v1/me/").status_code == 200


def test_the_ttl_comes_from_settings(api_client, customer, settings):
    settings.API_TOKEN_TTL = timedelta(hours=1)
    key = login(api_client, customer)
    age_token(key, timedelta(minutes=61))
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/v1/me/").json()["code"] == "token_expired"


def test_logout_deletes_the_token(api_client, customer):
    key = login(api_client, customer)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = api_client.post("/api/v1/auth/logout/")
    assert response.status_code == 204
    assert not Token.objects.filter(key=key).exists()
    after = api_client.get("/api/v1/me/")
    assert after.status_code == 401 and after.json()["code"] == "unauthenticated"
    assert api_client.post("/api/v1/auth/logout/").status_code == 401


def test_logout_without_a_token_is_401(api_client):
    response = api_client.post("/api/v1/auth/logout/")
    assert response.status_code == 401 and response.json()["code"] == "unauthenticated"


def test_the_demo_password_meets_the_validators():
    validate_password(DEMO_PASSWORD, user=UserFactory.build(username="alice", email="alice@example.test"))


@pytest.mark.parametrize("password, why", [
    ("Xq7-pass", "too short"),  # 8 < 12
    ("password1234", "too common"),
    ("918273645501", "entirely numeric"),
    ("alice.example.test", "too similar"),
])
def test_weak_passwords_are_refused(password, why):
    user = UserFactory.build(username="alice", email="alice.example.test@example.test")
    with pytest.raises(ValidationError) as error:
        validate_password(password, user=user)
    assert why in " ".join(error.value.messages).lower()
