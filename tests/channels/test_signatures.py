"""Table tests of the pure webhook signature helpers."""

import base64
import hashlib
import hmac

import pytest

from channels.signatures import (
    meta_signature,
    twilio_signature,
    verify_meta_signature,
    verify_twilio_signature,
)

BODY = b'{"object":"page","entry":[]}'
GOOD = "sha256=" + hmac.new(b"secret", BODY, hashlib.sha256).hexdigest()


def test_meta_signature_is_hmac_sha256_of_raw_body():
    assert meta_signature("secret", BODY) == GOOD
    assert meta_signature(b"secret", BODY) == GOOD


@pytest.mark.parametrize(
    "secret,body,header,expected",
    [
        ("secret", BODY, GOOD, True),
        ("secret", BODY, GOOD.upper().replace("SHA256=", "sha256="), True),  # hex case
        ("secret", BODY, " " + GOOD + " ", True),
        ("secret", BODY + b" ", GOOD, False),  # one byte more
        ("other", BODY, GOOD, False),
        ("secret", BODY, None, False),
        ("secret", BODY, "", False),
        ("secret", BODY, GOOD[len("sha256=") :], False),  # no prefix
        ("secret", BODY, "sha1=" + hmac.new(b"secret", BODY, hashlib.sha1).hexdigest(), False),
        ("secret", BODY, "sha256=", False),
        ("secret", BODY, "sha256=zz", False),
        ("secret", BODY, "sha256=ä" * 10, False),  # non-ASCII must not raise
        ("", BODY, "sha256=" + hmac.new(b"", BODY, hashlib.sha256).hexdigest(), False),
        (None, BODY, GOOD, False),
    ],
)
def test_verify_meta_signature(secret, body, header, expected):
    assert verify_meta_signature(secret, body, header) is expected


def test_twilio_signature_matches_twilios_documented_example():
    # The worked example of Twilio's webhook security documentation
    # (the same value as twilio-python's RequestValidator gives).
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    assert twilio_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def _reference(token, url, params):
    data = url + "".join(k + v for k, v in sorted(params.items()))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


URL = "https://nps.example.com/webhooks/twilio/webhook"
PARAMS = {"Body": "Dałbym 7 ¡ 8", "From": "+48600100200", "To": "+15005550006", "NumMedia": "0"}


@pytest.mark.parametrize(
    "url,params,header_url,token,expected",
    [
        (URL, PARAMS, URL, "tok", True),
        (URL, PARAMS, URL.replace(".com/", ".com:443/"), "tok", True),  # Twilio's port quirk
        (URL.replace(".com/", ".com:443/"), PARAMS, URL, "tok", True),
        (URL, PARAMS, URL.replace("https", "http"), "tok", False),
        (URL, PARAMS, URL + "?x=1", "tok", False),
        (URL, dict(PARAMS, Body="10"), URL, "tok", False),  # tampered body
        (URL, PARAMS, URL, "other", False),
        (
            "http://127.0.0.1:5005/webhooks/twilio/webhook",
            PARAMS,
            "http://127.0.0.1:5005/webhooks/twilio/webhook",
            "tok",
            True,
        ),
    ],
)
def test_verify_twilio_signature(url, params, header_url, token, expected):
    header = _reference(token, header_url, PARAMS)
    assert verify_twilio_signature("tok", url, params, header) is expected


def test_twilio_repeated_params_are_sorted_values():
    params = {"MediaUrl": ["b", "a"], "Body": ""}
    expected = _reference("t", URL + "BodyMediaUrlaMediaUrlb", {})
    assert twilio_signature("t", URL, params) == expected


@pytest.mark.parametrize("token,header", [("", "x"), (None, "x"), ("t", None), ("t", "")])
def test_twilio_empty_token_or_header_never_validates(token, header):
    assert verify_twilio_signature(token, URL, PARAMS, header) is False
