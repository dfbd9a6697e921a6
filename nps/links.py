"""Employees' survey links: signed with a server key, so that only staff get the
employee survey and nobody can make a customer's answers count as an
employee's (or the other way round) by typing a payload.

``python -m nps.links employee --store S`` prints a link to the web chat and
the start payload any channel can send (``/start{"employee_link": "<token>"}``).
The token carries the role, the store or team, the survey wave and an expiry;
its signature is an HMAC-SHA256 under ``NPS_EMPLOYEE_LINK_KEY`` (in
development a local key in var/, nps.keys). ``verify`` accepts only a token
this installation signed, unexpired, with clean fields: everything else is
refused with a reason that never repeats the token.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
import sys
import time
from dataclasses import dataclass
from urllib.parse import quote

from nps.flow import clean_touchpoint
from nps.keys import key
from nps.settings import SettingError, Settings, load_settings

EMPLOYEE = "employee"
# Longer than any token this module makes (about 120 characters); a longer
# payload is refused before it is decoded.
MAX_TOKEN_CHARS = 512
_WAVE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,31}$")


class LinkError(ValueError):
    """A link that is not ours, expired or malformed; the message is safe to show and log."""


@dataclass(frozen=True)
class EmployeeLink:
    store: str
    wave: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest())


def link_key(settings: Settings) -> bytes:
    return key("employee_links", settings.employee_link_key)


def sign(store: str, wave: str, expires_at: int, secret: bytes) -> str:
    """A token for an employee of ``store`` in survey ``wave``, valid until ``expires_at``."""
    clean = clean_touchpoint(store)
    if clean is None:
        raise LinkError("the store must be an id of up to 64 letters, digits, '_', '-' and '.'")
    if not _WAVE.match(wave):
        raise LinkError("the wave must be a short id such as 2026-11")
    payload = {"r": EMPLOYEE, "s": clean, "w": wave, "e": int(expires_at)}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{body}.{_signature(secret, body)}"


def verify(token: object, secret: bytes, now: float) -> EmployeeLink:
    """The link's fields if ``token`` is one of ours and still valid; else LinkError."""
    if not isinstance(token, str) or not token:
        raise LinkError("no link")
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise LinkError("not a link of this installation")
    body, signature = token.split(".")
    # Compared as bytes: compare_digest refuses non-ASCII str.
    expected = _signature(secret, body).encode("ascii")
    if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        raise LinkError("the link's signature does not match")
    try:
        payload = json.loads(_unb64(body))
    except (binascii.Error, ValueError):  # JSONDecodeError and UnicodeDecodeError included
        raise LinkError("the link is malformed") from None
    if not isinstance(payload, dict) or payload.get("r") != EMPLOYEE:
        raise LinkError("the link is not an employee link")
    store, wave, expires = payload.get("s"), payload.get("w"), payload.get("e")
    if clean_touchpoint(store) != store or not isinstance(wave, str) or not _WAVE.match(wave):
        raise LinkError("the link is malformed")
    if isinstance(expires, bool) or not isinstance(expires, int):
        raise LinkError("the link is malformed")
    if now >= expires:
        raise LinkError("the link has expired")
    return EmployeeLink(store=store, wave=wave, expires_at=expires)


def start_payload(token: str) -> str:
    return "/start" + json.dumps({"employee_link": token}, separators=(",", ":"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nps.links", description="Signed links to the employees' survey."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    employee = sub.add_parser("employee", help="a link for the employees of one store or team")
    employee.add_argument("--store", required=True, help="store or team id, e.g. warszawa-1")
    employee.add_argument(
        "--wave", default=None, help="survey wave label (default: this month, e.g. 2026-11)"
    )
    employee.add_argument(
        "--days", type=int, default=None, help="days the link stays valid (NPS_EMPLOYEE_LINK_DAYS)"
    )
    employee.add_argument(
        "--base-url", default=None, help="the page with the web chat (default: the local one)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingError as error:
        print(error, file=sys.stderr)
        return 1
    now = time.time()
    days = args.days if args.days is not None else settings.employee_link_days
    if not 1 <= days <= 366:
        print("--days must be 1-366", file=sys.stderr)
        return 2
    wave = args.wave or dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime("%Y-%m")
    try:
        token = sign(args.store, wave, int(now + days * 86400), link_key(settings))
    except LinkError as error:
        print(error, file=sys.stderr)
        return 2
    base = (args.base_url or f"http://{settings.host}:{settings.webchat_port}").rstrip("/")
    until = dt.datetime.fromtimestamp(now + days * 86400, dt.timezone.utc).date().isoformat()
    print(f"{base}/?employee={quote(token)}")
    print(f"# store {clean_touchpoint(args.store)}, wave {wave}, valid until {until} (UTC)")
    print(f"# start payload for any channel: {start_payload(token)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
