"""Webhook signatures of Meta (Messenger, WhatsApp) and Twilio.

Pure functions: no I/O, no Rasa, no Sanic, so they are table-tested in
isolation and the connectors stay thin.

Why not Rasa's own check: Rasa 3.6's ``FacebookInput.validate_hub_signature``
compares the SHA-1 ``X-Hub-Signature`` with ``==`` (a timing side channel) and
picks the hash function from the header itself (``getattr(hashlib, ...)``), so a
sender chooses how the body is checked. Here the algorithm is fixed to
SHA-256 and every comparison is ``hmac.compare_digest``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

META_SIGNATURE_HEADER = "X-Hub-Signature-256"
META_SIGNATURE_PREFIX = "sha256="
TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"

ParamValue = str | Sequence[str]


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def meta_signature(app_secret: str | bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body``.

    Meta signs the raw request body (before any JSON parsing: re-serialised
    JSON would differ in whitespace and escaping) with the app secret.
    """
    digest = hmac.new(_as_bytes(app_secret), body, hashlib.sha256).hexdigest()
    return META_SIGNATURE_PREFIX + digest


def verify_meta_signature(app_secret: str | bytes | None, body: bytes, header: str | None) -> bool:
    """True only when ``header`` is a valid SHA-256 signature of ``body``.

    An empty secret never validates: an unconfigured app must not accept
    anything, whatever a sender computes with the empty key.
    """
    if not app_secret or not header:
        return False
    header = header.strip()
    # The prefix is case-insensitive in practice; the hex digest is lower case
    # from Meta, but accept upper case hex too (it is the same signature).
    if not header[: len(META_SIGNATURE_PREFIX)].lower() == META_SIGNATURE_PREFIX:
        return False
    expected = meta_signature(app_secret, body)
    given = META_SIGNATURE_PREFIX + header[len(META_SIGNATURE_PREFIX) :].lower()
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace"))


def _param_items(params: Mapping[str, ParamValue]) -> Iterable[tuple[str, str]]:
    for name in sorted(set(params)):
        values = params[name]
        if isinstance(values, str):
            values = [values]
        # Twilio sorts repeated values too (same as its own RequestValidator).
        for value in sorted(set(values)):
            yield name, value


def twilio_signature(auth_token: str | bytes, url: str, params: Mapping[str, ParamValue]) -> str:
    """The ``X-Twilio-Signature`` for a form POST to ``url``.

    Twilio's algorithm: the full URL (scheme, host, path, query) followed by
    every POST parameter name and value, sorted by name, without separators;
    HMAC-SHA1 with the account's auth token; base64.
    """
    data = url + "".join(name + value for name, value in _param_items(params))
    mac = hmac.new(_as_bytes(auth_token), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def _url_port_variants(url: str) -> tuple[str, ...]:
    """The URL without and with its default port.

    Twilio's own validator accepts both, because Twilio is not consistent about
    including ``:443`` / ``:80`` when it signs.
    """
    parts = urlsplit(url)
    if parts.username or parts.password:
        # Twilio signs the URL including any basic-auth credentials as given.
        return (url,)
    netloc = parts.netloc
    # Keep the host exactly as written (case, IPv6 brackets): only the port moves.
    host = netloc[: netloc.rfind(":")] if parts.port is not None else netloc
    default_port = 443 if parts.scheme == "https" else 80
    without = urlunsplit(parts._replace(netloc=host))
    with_port = urlunsplit(parts._replace(netloc=f"{host}:{parts.port or default_port}"))
    if parts.port not in (None, default_port):
        return (url,)
    return (without, with_port)


def verify_twilio_signature(
    auth_token: str | bytes | None,
    url: str,
    params: Mapping[str, ParamValue],
    header: str | None,
) -> bool:
    """True only when ``header`` signs ``url`` + ``params`` with the token."""
    if not auth_token or not header:
        return False
    given = header.strip().encode("ascii", "replace")
    ok = False
    for candidate in _url_port_variants(url):
        expected = twilio_signature(auth_token, candidate, params).encode("ascii")
        # No early exit: both variants are always computed and compared.
        ok |= hmac.compare_digest(expected, given)
    return ok
