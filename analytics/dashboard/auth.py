"""Who may see the dashboard, and what.

The dashboard shows customers' own words, so it asks for a login whenever it
listens beyond loopback (NPS_HOST, or Streamlit's server.address), and always
when NPS_ENV=production (a reverse proxy on the same host would otherwise
publish a loopback dashboard with no login). Two ways:

* passwords (the default, NPS_DASHBOARD_LOGIN=password): a users file
  (NPS_DASHBOARD_USERS, default var/dashboard_users.json, mode 0600) holds
  each user's role and a scrypt hash of the password, never the password;
  `python -m analytics.dashboard.auth add NAME --role ...` prompts for it;
* OpenID Connect (NPS_DASHBOARD_LOGIN=oidc): Streamlit's st.login with the
  identity provider configured in .streamlit/secrets.toml ([auth]); the
  users file then only gives each e-mail address its role.

Roles: `analyst` sees everything; `store_manager` sees only the responses of
their touchpoints, on every page (live view and downloads included), and not
the "Try the bot" page. Without a login (loopback) the local user is an
analyst.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analytics.dataset import Dataset, scope_employees, subset
from nps.settings import REPO_ROOT, SettingError, env_text
from nps.settings import load_settings as bot_settings

ROLES = ("analyst", "store_manager")
LOGINS = ("password", "oidc")
DEFAULT_USERS_FILE = REPO_ROOT / "var" / "dashboard_users.json"
MIN_PASSWORD_CHARS = 12
# scrypt's cost: 16 MB and about 50 ms a try, so a stolen users file is slow
# to brute-force and a login stays instant.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
# After this many wrong passwords for one name, that name is locked for a
# while (per dashboard process): guessing online goes no faster than this.
MAX_FAILURES = 5
LOCKOUT_SECONDS = 60.0


@dataclass(frozen=True)
class User:
    name: str
    role: str
    touchpoints: tuple[str, ...] = ()

    @property
    def analyst(self) -> bool:
        return self.role == "analyst"


@dataclass(frozen=True)
class Account:
    user: User
    password_hash: str = ""  # empty for OIDC users


LOCAL_USER = User("local", "analyst")


@dataclass(frozen=True)
class Config:
    login: str  # "password" or "oidc"
    users_file: Path
    address: str  # where the dashboard listens
    production: bool = False  # NPS_ENV=production: a login wherever it listens


def load_config(env: Mapping[str, str] | None = None, address: str | None = None) -> Config:
    """The login settings; `address` is Streamlit's server.address (None:
    unset, so Streamlit listens on every interface). A bad value raises
    SettingError naming the variable."""
    env = os.environ if env is None else env
    shared = bot_settings(env)
    host = shared.host
    login = env_text(env, "NPS_DASHBOARD_LOGIN", "password").lower()
    if login not in LOGINS:
        raise SettingError(f"NPS_DASHBOARD_LOGIN must be one of {', '.join(LOGINS)}, got {login!r}")
    users = Path(env_text(env, "NPS_DASHBOARD_USERS", str(DEFAULT_USERS_FILE)))
    # Listening beyond loopback on either address needs a login.
    candidates = ["0.0.0.0" if address is None else address, host]
    shown = next((a for a in candidates if not is_loopback(a)), candidates[0])
    return Config(
        login=login, users_file=users, address=shown, production=shared.environment == "production"
    )


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 and localhost. None or empty (Streamlit's default,
    every interface) and 0.0.0.0 are not."""
    if not host:
        return False
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable from elsewhere


def login_required(config: Config) -> bool:
    return config.production or not is_loopback(config.address)


# --- passwords ----------------------------------------------------------------


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(bytes.fromhex(digest)),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed, bytes.fromhex(digest))


# --- the users file -----------------------------------------------------------


def load_users(path: Path) -> dict[str, Account]:
    """name -> Account; a missing file is no users. A broken one raises
    SettingError with one line."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SettingError(f"NPS_DASHBOARD_USERS: cannot read {path}: {exc}") from None
    entries = raw.get("users") if isinstance(raw, dict) else None
    if not isinstance(entries, dict):
        raise SettingError(f'NPS_DASHBOARD_USERS: {path} has no "users" object')
    users = {}
    for name, entry in entries.items():
        role = entry.get("role") if isinstance(entry, dict) else None
        if role not in ROLES:
            raise SettingError(f"NPS_DASHBOARD_USERS: user {name!r} has no valid role ({role!r})")
        touchpoints = tuple(str(t) for t in entry.get("touchpoints") or ())
        if role == "store_manager" and not touchpoints:
            raise SettingError(f"NPS_DASHBOARD_USERS: store manager {name!r} has no touchpoints")
        users[name] = Account(User(name, role, touchpoints), str(entry.get("password") or ""))
    return users


def save_users(path: Path, users: Mapping[str, Account]) -> None:
    """Written whole to a private temporary file, then renamed over the old one."""
    body = {
        "users": {
            name: {
                "role": a.user.role,
                **({"touchpoints": list(a.user.touchpoints)} if a.user.touchpoints else {}),
                **({"password": a.password_hash} if a.password_hash else {}),
            }
            for name, a in sorted(users.items())
        }
    }
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".users-")  # mode 0600
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(body, file, ensure_ascii=False, indent=2)
        file.write("\n")
    os.replace(tmp, path)


_failures: dict[str, tuple[int, float]] = {}  # name -> (wrong passwords in a row, last at)
_failures_lock = threading.Lock()


def authenticate(users: Mapping[str, Account], name: str, password: str) -> User | None:
    """The user when the password matches; None otherwise, and for a name
    locked after MAX_FAILURES wrong passwords in the last LOCKOUT_SECONDS."""
    now = time.monotonic()
    with _failures_lock:
        count, last = _failures.get(name, (0, 0.0))
        if count >= MAX_FAILURES and now - last < LOCKOUT_SECONDS:
            return None
    account = users.get(name)
    # A hash is computed for an unknown name too: the answer takes as long.
    stored = account.password_hash if account and account.password_hash else _DUMMY_HASH
    ok = check_password(password, stored) and account is not None and bool(account.password_hash)
    with _failures_lock:
        if ok:
            _failures.pop(name, None)
        else:
            _failures[name] = (count + 1 if now - last < LOCKOUT_SECONDS else 1, now)
    return account.user if ok else None


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


# --- what a user may see --------------------------------------------------------


PERSON_COLUMNS = ("person", "sender_id")


def scope(ds: Dataset, user: User) -> Dataset:
    """The part of the data `user` may see: all of it for an analyst; for a
    store manager the responses of their touchpoints, and what hangs on them
    (mentions, whys, offers by response; extra comments by sender), and the
    employees of their touchpoints."""
    if user.analyst:
        return ds
    r = ds.responses
    responses = r[r["touchpoint"].isin(list(user.touchpoints))].reset_index(drop=True)
    extra = ds.extra_comments
    # An extra comment belongs to a person (their pseudonym; the raw sender id
    # in projections of schema version 2); none is shown if neither is there.
    person = next((c for c in PERSON_COLUMNS if c in responses and c in extra), None)
    people = set(responses[person]) if person else set()
    extra = extra[extra[person].isin(people)] if person else extra.iloc[0:0]
    # Their own stores' employees only (the mirror survey's answers).
    return scope_employees(subset(ds, responses, extra), sorted(user.touchpoints))


def scope_live(
    recent: pd.DataFrame | None, messages: list[dict], user: User
) -> tuple[pd.DataFrame | None, list[dict]]:
    """The live view's newest surveys and messages a user may see: a store
    manager's only of surveys at their touchpoints (a message belongs to a
    survey through its customer's pseudonym, the `klient` column)."""
    if user.analyst or recent is None:
        return recent, messages if user.analyst else []
    mine = recent[recent["touchpoint"].isin(list(user.touchpoints))].reset_index(drop=True)
    customers = set(mine["klient"]) if "klient" in mine else set()
    return mine, [m for m in messages if m.get("klient") in customers]


# --- the command line -----------------------------------------------------------


def _read_password(ask: Callable[[str], str]) -> str:
    first = ask("Hasło: ")
    if len(first) < MIN_PASSWORD_CHARS:
        raise SystemExit(f"Hasło musi mieć co najmniej {MIN_PASSWORD_CHARS} znaków.")
    if ask("Powtórz hasło: ") != first:
        raise SystemExit("Hasła się różnią; nic nie zapisano.")
    return first


def main(argv: list[str] | None = None, ask: Callable[[str], str] = getpass.getpass) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analytics.dashboard.auth",
        description="Dashboard users (file: NPS_DASHBOARD_USERS, default var/dashboard_users.json).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add a user or change their password and role")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument(
        "--touchpoint", action="append", default=[], help="a store manager's touchpoint (repeat)"
    )
    add.add_argument(
        "--no-password", action="store_true", help="an OpenID Connect user (the name is the e-mail)"
    )
    remove = sub.add_parser("remove", help="remove a user")
    remove.add_argument("name")
    sub.add_parser("list", help="users and roles (no hashes)")
    check = sub.add_parser(
        "check", help="exit 1 with one line if a login is needed and nobody can log in"
    )
    check.add_argument("--address", help="the dashboard's --server.address (default NPS_HOST)")
    args = parser.parse_args(argv)
    try:
        # The dashboard is started with --server.address NPS_HOST (run.sh, make dashboard).
        config = load_config(address=getattr(args, "address", None) or bot_settings().host)
        users = load_users(config.users_file)
    except SettingError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.command == "check":
        problem = start_problem(config, users)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        return 0
    if args.command == "list":
        for name, account in sorted(users.items()):
            print(name, account.user.role, ",".join(account.user.touchpoints))
        return 0
    if args.command == "remove":
        if users.pop(args.name, None) is None:
            print(f"No user {args.name!r} in {config.users_file}", file=sys.stderr)
            return 1
        save_users(config.users_file, users)
        print(f"Removed {args.name} from {config.users_file}")
        return 0
    if args.role == "store_manager" and not args.touchpoint:
        parser.error("a store manager needs at least one --touchpoint")
    password_hash = "" if args.no_password else hash_password(_read_password(ask))
    user = User(args.name, args.role, tuple(dict.fromkeys(args.touchpoint)))
    users[args.name] = Account(user, password_hash)
    save_users(config.users_file, users)
    print(f"Saved {args.name} ({args.role}) in {config.users_file}")
    return 0


def start_problem(config: Config, users: Mapping[str, Account]) -> str | None:
    """Why the dashboard must not start, in one line; None when it may."""
    if not login_required(config):
        return None
    can_log_in = (
        any(a.password_hash for a in users.values()) if config.login == "password" else users
    )
    if can_log_in:
        return None
    where = "in production" if config.production else f"on {config.address} (beyond loopback)"
    return (
        f"The dashboard runs {where} and nobody can log in: "
        f"add a user with `python -m analytics.dashboard.auth add NAME --role analyst` "
        f"(users file {config.users_file}), or listen on 127.0.0.1."
    )


if __name__ == "__main__":
    sys.exit(main())
