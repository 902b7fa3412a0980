"""TOTP secrets keep decrypting when the encryption key changes source: rows written with the key
derived from SECRET_KEY still decrypt once FIELD_ENCRYPTION_KEY is set (and after SECRET_KEY is
rotated into SECRET_KEY_FALLBACKS); new rows are written with FIELD_ENCRYPTION_KEY."""

import pyotp
import pytest
from cryptography.fernet import Fernet, InvalidToken

from tests.fixtures.factories import CustomerFactory
from withdrawals.models import TotpDevice
from withdrawals.services.otp import derived_key, totp_enroll, totp_secret, totp_verify

pytestmark = pytest.mark.django_db


def test_a_secret_written_with_the_derived_key_decrypts_after_field_encryption_key_is_set(settings):
    settings.FIELD_ENCRYPTION_KEY = ""
    customer = CustomerFactory()
    device, secret, _ = totp_enroll(customer=customer)
    written = TotpDevice.objects.get(pk=device.pk).secret_encrypted
    assert Fernet(derived_key(settings.SECRET_KEY)).decrypt(written.encode()).decode() == secret

    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    assert totp_secret(TotpDevice.objects.get(pk=device.pk)) == secret
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    totp_verify(customer=customer, code=pyotp.TOTP(secret).now())  # the code still works


def test_new_secrets_are_written_with_field_encryption_key(settings):
    settings.FIELD_ENCRYPTION_KEY = key = Fernet.generate_key().decode()
    device, secret, _ = totp_enroll(customer=CustomerFactory())
    written = TotpDevice.objects.get(pk=device.pk).secret_encrypted.encode()
    assert Fernet(key).decrypt(written).decode() == secret
    with pytest.raises(InvalidToken):
        Fernet(derived_key(settings.SECRET_KEY)).decrypt(written)


def test_a_rotated_secret_key_in_the_fallbacks_still_decrypts(settings):
    settings.FIELD_ENCRYPTION_KEY = ""
    old = settings.SECRET_KEY
    device, secret, _ = totp_enroll(customer=CustomerFactory())
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(InvalidToken):  # without the old key, nothing can read the row
        totp_secret(TotpDevice.objects.get(pk=device.pk))
    settings.SECRET_KEY_FALLBACKS = [old]
    assert totp_secret(TotpDevice.objects.get(pk=device.pk)) == secret
