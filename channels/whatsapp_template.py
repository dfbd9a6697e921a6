"""Start a WhatsApp survey with an approved template message.

WhatsApp lets a business write first, or again after 24 hours of customer
silence, only with a template approved by Meta. An NPS invitation template
with a quick-reply button ("Zacznij ankietę") whose payload is a start payload
(``/start{"touchpoint":"delivery"}``) starts the survey with its touchpoint
when the customer taps it: the webhook delivers it as a ``button`` message.

    WHATSAPP_ACCESS_TOKEN=... WHATSAPP_PHONE_NUMBER_ID=... \\
    python -m channels.whatsapp_template --to 48600100200 --template nps_invite \\
        --lang pl --body-param Ania --button-payload '/start{"touchpoint":"delivery"}'

Exit status 0 when Meta accepted the message (its id is printed), 1 when not,
2 for a usage error. See docs/channels.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from channels.outbound import HttpSender, RetryPolicy
from channels.whatsapp import DEFAULT_API_URL, DEFAULT_API_VERSION, messages_url
from nps.identity import IdentityError, conversation_id, log_id


def template_message(
    to: str,
    template: str,
    language: str,
    body_params: Sequence[str] = (),
    button_payloads: Sequence[str] = (),
) -> dict[str, Any]:
    """The Cloud API body for a template message (pure, tested)."""
    components: list[dict[str, Any]] = []
    if body_params:
        components.append(
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in body_params]}
        )
    for index, payload in enumerate(button_payloads):
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": payload}],
            }
        )
    tmpl: dict[str, Any] = {"name": template, "language": {"code": language}}
    if components:
        tmpl["components"] = components
    # WhatsApp ids are digits only; "+48 600-100-200" is accepted and normalised.
    digits = "".join(ch for ch in to if ch.isdigit())
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": digits,
        "type": "template",
        "template": tmpl,
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m channels.whatsapp_template",
        description="Send an approved WhatsApp template (survey invitation).",
    )
    parser.add_argument("--to", required=True, help="customer's number, e.g. 48600100200")
    parser.add_argument("--template", required=True, help="approved template name")
    parser.add_argument("--lang", default="pl", help="template language code (default pl)")
    parser.add_argument(
        "--body-param",
        action="append",
        default=[],
        help="value for {{1}}, {{2}}, ... of the body, in order; repeatable",
    )
    parser.add_argument(
        "--button-payload",
        action="append",
        default=[],
        help="payload of quick-reply button 0, 1, ...; repeatable",
    )
    parser.add_argument("--api-url", default=os.environ.get("WHATSAPP_API_URL") or DEFAULT_API_URL)
    parser.add_argument(
        "--api-version", default=os.environ.get("WHATSAPP_API_VERSION") or DEFAULT_API_VERSION
    )
    parser.add_argument("--phone-number-id", default=os.environ.get("WHATSAPP_PHONE_NUMBER_ID", ""))
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--dry-run", action="store_true", help="print the request, send nothing")
    return parser.parse_args(argv)


async def send(args: argparse.Namespace, token: str) -> int:
    body = template_message(args.to, args.template, args.lang, args.body_param, args.button_payload)
    try:
        # Logs name the conversation by its keyed hash, never the number.
        logged_as = log_id(conversation_id("whatsapp", body["to"]))
    except IdentityError:
        logged_as = "whatsapp:(not a phone number)"  # Meta will refuse it
    # Retried only when Meta surely did not get it or asks for a retry
    # (throttling): a template sent twice reaches the customer twice.
    sender = HttpSender(RetryPolicy(timeout=args.timeout))
    try:
        result = await sender.post(
            messages_url(args.api_url, args.api_version, args.phone_number_id),
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            conversation_id=logged_as,
            what="whatsapp template",
            platform="meta",
        )
    finally:
        await sender.close()
    if not result.ok:
        print(f"not sent ({result.outcome.value}): {result.error}", file=sys.stderr)
        if result.outcome.value == "unknown":
            print("it may have arrived: check before sending it again", file=sys.stderr)
        return 1
    ids = (
        [m.get("id") for m in (result.body or {}).get("messages", [])]
        if isinstance(result.body, dict)
        else []
    )
    print(json.dumps({"sent": True, "to": body["to"], "message_ids": ids}))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.dry_run:
        print(
            json.dumps(
                template_message(
                    args.to, args.template, args.lang, args.body_param, args.button_payload
                ),
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    token = os.environ.get("WHATSAPP_ACCESS_TOKEN", "")
    if not token or not args.phone_number_id:
        print(
            "set WHATSAPP_ACCESS_TOKEN and WHATSAPP_PHONE_NUMBER_ID (or --phone-number-id)",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(send(args, token))


if __name__ == "__main__":
    sys.exit(main())
