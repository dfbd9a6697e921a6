"""Employees' signed survey links (nps/links.py): only a link this
installation signed, unaltered and unexpired, opens the employees' survey."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlparse

import pytest

from nps import links

KEY = b"k" * 32  # pragma: allowlist secret (a test value)
NOW = 1_800_000_000.0


def _token(store="warszawa-1", wave="2026-11", expires=NOW + 3600, key=KEY) -> str:
    return links.sign(store, wave, int(expires), key)


def test_a_signed_link_gives_its_store_and_wave():
    link = links.verify(_token(store="Warszawa-1"), KEY, NOW)
    assert link == links.EmployeeLink(
        store="warszawa-1", wave="2026-11", expires_at=int(NOW + 3600)
    )


def _forge(token: str, **changes) -> str:
    """The token with its payload edited and the old signature kept."""
    body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(changes)
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "." + signature


@pytest.mark.parametrize(
    "token, reason",
    [
        (None, "no link"),
        ("", "no link"),
        (12345, "no link"),
        ("warszawa-1", "not a link of this installation"),  # unsigned
        (_token().split(".")[0] + ".", "signature does not match"),  # signature cut off
        (_token(key=b"another key of 32 bytes........."), "signature does not match"),
        (_forge(_token(), s="krakow-2"), "signature does not match"),  # another store
        (_forge(_token(), e=int(NOW + 10**8)), "signature does not match"),  # longer life
        (_token(expires=NOW - 1), "expired"),
        (_token(expires=NOW), "expired"),
        ("a" * 600 + ".b", "not a link of this installation"),
        (_token() + ".x", "not a link of this installation"),
        (_token()[:-2] + "ż", "signature does not match"),  # non-ASCII
    ],
)
def test_a_forged_unsigned_or_expired_link_is_refused(token, reason):
    with pytest.raises(links.LinkError, match=reason) as error:
        links.verify(token, KEY, NOW)
    if isinstance(token, str) and len(token) > 20:
        assert token not in str(error.value)  # the reason never repeats the token


def test_a_payload_signed_with_our_key_but_not_an_employee_link_is_refused():
    """Defence in depth: a signature made for something else is not a link."""
    body = base64.urlsafe_b64encode(b'{"r":"customer","s":"x","w":"1","e":9999999999}')
    body = body.rstrip(b"=").decode()
    token = f"{body}.{links._signature(KEY, body)}"
    with pytest.raises(links.LinkError, match="not an employee link"):
        links.verify(token, KEY, NOW)


@pytest.mark.parametrize("store, wave", [("<b>", "2026-11"), ("sklep 1", "x"), ("s", "a b")])
def test_a_link_with_unclean_fields_is_never_made(store, wave):
    with pytest.raises(links.LinkError):
        links.sign(store, wave, int(NOW), KEY)


def test_the_command_prints_a_web_chat_link_that_verifies(tmp_path):
    env = {"NPS_EMPLOYEE_LINK_KEY": KEY.decode(), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nps.links",
            "employee",
            "--store",
            "gdansk",
            "--wave",
            "2026-12",
            "--base-url",
            "https://chat.example.com/",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    url = done.stdout.splitlines()[0]
    assert url.startswith("https://chat.example.com/?employee=")
    token = parse_qs(urlparse(url).query)["employee"][0]
    link = links.verify(token, KEY, time.time())
    assert (link.store, link.wave) == ("gdansk", "2026-12")
    assert links.start_payload(token) in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "nps.links", "employee", "--store", "<script>"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 2 and "store" in bad.stderr
