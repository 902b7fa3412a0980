"""The signature receivers check: HMAC-SHA256 over ``timestamp + "." + raw body``."""

import hashlib
import hmac

import pytest

from events.signing import SignatureError, signature_header, signature_verify

SECRET = "s3cret-s3cret-s3cret-s3cret-s3cret"
BODY = b'{"id":"e1","kind":"withdrawal.completed"}'


def test_the_header_carries_the_timestamp_and_the_hmac_of_timestamp_dot_body():
    header = signature_header(secret=SECRET, body=BODY, timestamp=1_700_000_000)
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert signature_verify(secret=SECRET, header=header, body=BODY, now=1_700_000_010) == 1_700_000_000


@pytest.mark.parametrize("case", ["changed body", "wrong secret", "too old", "from the future", "no timestamp",
                                  "no signature"])
def test_a_changed_forged_or_replayed_request_is_refused(case):
    header = signature_header(secret=SECRET, body=BODY, timestamp=1_700_000_000)
    body, secret, now = BODY, SECRET, 1_700_000_000
    if case == "changed body":
        body = BODY.replace(b"completed", b"failed")
    elif case == "wrong secret":
        secret = "another-secret-another-secret-1234"
    elif case == "too old":
        now += 301
    elif case == "from the future":
        now -= 301
    elif case == "no timestamp":
        header = header.split(",", 1)[1]
    elif case == "no signature":
        header = header.split(",", 1)[0]
    with pytest.raises(SignatureError):
        signature_verify(secret=secret, header=header, body=body, now=now)


def test_any_of_several_signatures_may_match_while_a_secret_is_rotated():
    old = signature_header(secret="old-secret-old-secret-old-secret-00", body=BODY, timestamp=100)
    new = signature_header(secret=SECRET, body=BODY, timestamp=100)
    both = f"{new},{old.split(',')[1]}"
    assert signature_verify(secret="old-secret-old-secret-old-secret-00", header=both, body=BODY, now=100) == 100
