"""`rasa run` without the API token on the command line.

    RASA_TOKEN=... python scripts/rasa_serve.py --model ... --enable-api ...

Every argument is `rasa run`'s, except --auth-token, which is refused: a
command line is readable by every local user (`ps`, /proc/<pid>/cmdline).
The token comes from the environment (RASA_TOKEN; /proc/<pid>/environ is
readable by the service user only) or from the file NPS_RASA_TOKEN_FILE
(default var/rasa_token, mode 0600), and reaches Rasa as the parsed
argument, exactly as `rasa run --auth-token` would have set it. Everything
else (logging, plugins, model checks) is Rasa's own `rasa` command."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TOKEN_FILE = REPO_ROOT / "var" / "rasa_token"


class TokenError(Exception):
    pass


def read_token(env: Mapping[str, str]) -> str:
    """RASA_TOKEN, else the token file; an empty token is an error (the API
    would then accept anyone)."""
    token = env.get("RASA_TOKEN", "").strip()
    if token:
        return token
    path = Path(env.get("NPS_RASA_TOKEN_FILE", "").strip() or DEFAULT_TOKEN_FILE)
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TokenError(f"No RASA_TOKEN and cannot read {path}: {exc.strerror}") from None
    if not token:
        raise TokenError(f"No RASA_TOKEN and {path} is empty")
    return token


def check_arguments(argv: list[str]) -> None:
    if any(a == "--auth-token" or a.startswith("--auth-token=") for a in argv):
        raise TokenError("--auth-token is refused: pass the token in RASA_TOKEN or its file")


def serve(argv: list[str], token: str) -> None:
    """Rasa's own entry point (`rasa run ARGS`), with the token set on the
    parsed arguments instead of read from the command line."""
    import rasa.__main__ as rasa_main

    make_parser = rasa_main.create_argument_parser

    def parser_with_token():
        parser = make_parser()
        parse = parser.parse_args

        def parse_args(args=None, namespace=None):
            parsed = parse(args, namespace)
            parsed.auth_token = token
            return parsed

        parser.parse_args = parse_args
        return parser

    rasa_main.create_argument_parser = parser_with_token
    sys.argv = ["rasa", "run", *argv]  # what Rasa parses; no token in it
    rasa_main.main()


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ if env is None else env
    try:
        check_arguments(argv)
        token = read_token(env)
    except TokenError as exc:
        print(exc, file=sys.stderr)
        return 2
    serve(argv, token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
