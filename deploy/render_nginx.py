"""nginx's configuration for `make cluster`, rendered from deploy/nginx/cluster.conf.template.

    python -m deploy.render_nginx --prefix var/cluster --listen 127.0.0.1:8000 \
        --actions-listen 127.0.0.1:41000 --rasa 127.0.0.1:41001 --rasa 127.0.0.1:41002 \
        --actions 127.0.0.1:41003 --actions 127.0.0.1:41004 [--rest] [--user nps --group nps]

prints the configuration. Two numbers are not the operator's to choose
here, because they must agree with the bot: the body limit is Rasa's own
(`MAX_REQUEST_BYTES` in channels/ingress.py, read from its source so this
runs in either environment without Sanic), and the proxy's read timeout is
the turn bound (`NPS_TURN_TIMEOUT`, nps/settings.py) plus a margin.
"""

from __future__ import annotations

import argparse
import ast
import math
import string
import sys
from dataclasses import dataclass
from pathlib import Path

from nps.settings import load_settings

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "deploy" / "nginx" / "cluster.conf.template"
INGRESS = REPO / "channels" / "ingress.py"
# The channels whose webhooks the platforms call (docs/deployment.md).
PUBLIC_CHANNELS = ("facebook", "whatsapp", "twilio")
# Seconds the proxy waits beyond the longest turn: the tracker save and the
# answer still have to come back after the turn's bound.
READ_MARGIN_SECONDS = 15
# A process that refused a connection is left out this long, then tried again.
FAIL_TIMEOUT = "5s"


class _Template(string.Template):
    # nginx's own variables start with $; ours with @ (nginx uses @ only for
    # named locations, which this configuration has none of).
    delimiter = "@"


@dataclass(frozen=True)
class Layout:
    """Where everything listens, as `make cluster` chose it."""

    prefix: Path
    listen: str
    actions_listen: str
    rasa: tuple[str, ...]
    actions: tuple[str, ...]
    # The REST channel has no authentication: exposed only by a local
    # cluster (credentials.yml), never in production.
    rest: bool = False
    user: str | None = None
    group: str | None = None


def max_request_bytes(path: Path = INGRESS) -> int:
    """The value of `MAX_REQUEST_BYTES = ...` in channels/ingress.py."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "MAX_REQUEST_BYTES"
            for target in node.targets
        ):
            value = ast.literal_eval(node.value)
            if isinstance(value, int) and value > 0:
                return value
    raise ValueError(f"no MAX_REQUEST_BYTES = <positive int> in {path}")


def read_timeout(turn_timeout: float) -> int:
    """The proxy's read timeout in whole seconds: longer than any turn."""
    return math.ceil(turn_timeout) + READ_MARGIN_SECONDS


def channels_pattern(rest: bool) -> str:
    return "|".join((("rest",) if rest else ()) + PUBLIC_CHANNELS)


def _servers(addresses: tuple[str, ...]) -> str:
    if not addresses:
        raise ValueError("an upstream needs at least one server")
    return "\n".join(
        f"        server {address} max_fails=1 fail_timeout={FAIL_TIMEOUT};"
        for address in addresses
    )


def render(
    layout: Layout,
    turn_timeout: float,
    max_body_bytes: int,
    template: Path = TEMPLATE,
) -> str:
    user_line = ""
    if layout.user:
        # Meaningful only when nginx starts as root: its workers then run as
        # this user instead of nobody (who could not enter var/, mode 700).
        user_line = f"user {layout.user} {layout.group or layout.user};"
    return _Template(template.read_text(encoding="utf-8")).substitute(
        user_line=user_line,
        prefix=str(layout.prefix),
        listen=layout.listen,
        actions_listen=layout.actions_listen,
        rasa_servers=_servers(layout.rasa),
        actions_servers=_servers(layout.actions),
        rasa_count=len(layout.rasa),
        channels=channels_pattern(layout.rest),
        max_body_bytes=max_body_bytes,
        read_timeout=read_timeout(turn_timeout),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", type=Path, required=True)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--actions-listen", required=True)
    parser.add_argument("--rasa", action="append", required=True)
    parser.add_argument("--actions", action="append", required=True)
    parser.add_argument("--rest", action="store_true")
    parser.add_argument("--user")
    parser.add_argument("--group")
    args = parser.parse_args(argv)
    layout = Layout(
        prefix=args.prefix.resolve(),
        listen=args.listen,
        actions_listen=args.actions_listen,
        rasa=tuple(args.rasa),
        actions=tuple(args.actions),
        rest=args.rest,
        user=args.user,
        group=args.group,
    )
    sys.stdout.write(render(layout, load_settings().turn_timeout, max_request_bytes()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
