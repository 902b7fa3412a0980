"""TOTP enrolment and verification: secrets encrypted at rest, codes single-use."""


import pyotp
import pytest
from rest_framework.test import APIClient

from core.errors import DomainError
from tests.fixtures.factories import CustomerFactory
from withdrawals.models import TotpDevice
from withdrawals.services import otp as otp_service
from withdrawals.services.otp import totp_verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def app():
    customer = CustomerFactory()
    client = APIClient()
    client.force_authenticate(customer.user)
    return customer, client


def code_at(secret: str, offset_steps: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.at(int(otp_service.otp_now()) + offset_steps * totp.interval)


def test_enrol_then_confirm_then_codes_work_once(app):
    customer, client = app
    response = client.post("/api/v1/otp/enroll/")
    assert response.status_code == 201
    secret = response.json()["secret"]
    assert response.json()["otpauth_url"].startswith("otpauth://totp/")
    device = TotpDevice.objects.get(customer=customer)
    assert secret not in device.secret_encrypted  # stored encrypted
    assert client.post("/api/v1/otp/confirm/", {"code": "000000"}, format="json").json()["code"] == "invalid_otp"
    assert client.post("/api/v1/otp/confirm/", {"code": code_at(secret, -1)}, format="json").status_code == 200
    totp_verify(customer=customer, code=code_at(secret))
    with pytest.raises(DomainError) as reused:
        totp_verify(customer=customer, code=code_at(secret))
    assert reused.value.code == "invalid_otp"


def test_a_confirmed_device_cannot_be_re_enrolled_by_the_app_without_a_current_code(app):
    customer, client = app
    secret = client.post("/api/v1/otp/enroll/").json()["secret"]
    client.post("/api/v1/otp/confirm/", {"code": code_at(secret)}, format="json")
    before = TotpDevice.objects.values().get(customer=customer)
    response = client.post("/api/v1/otp/enroll/")
    assert response.status_code == 400 and response.json()["field"] == "code"
    assert response.json()["code"] == "invalid_otp"
    assert TotpDevice.objects.values().get(customer=customer) == before  # nothing changed


def test_codes_outside_the_window_are_refused(app):
    customer, client = app
    secret = client.post("/api/v1/otp/enroll/").json()["secret"]
    client.post("/api/v1/otp/confirm/", {"code": code_at(secret, -1)}, format="json")
    with pytest.raises(DomainError):
        totp_verify(customer=customer, code=code_at(secret, 3))
    with pytest.raises(DomainError):
        totp_verify(customer=customer, code=code_at(secret, -3))


def test_unenrolled_customer_gets_invalid_otp(app):
    customer, _ = app
    with pytest.raises(DomainError) as error:
        totp_verify(customer=customer, code="123456")
    assert error.value.code == "invalid_otp" and "enrol" in error.value.detail
