"""`python -m channels.whatsapp_template` against the stand-in Graph API."""

import json
import os
import subprocess
import sys

from channels.whatsapp_template import template_message
from tests.channels.channel_helpers import REPO, WA_PHONE_ID


def run_cli(args, env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHATSAPP_")}
    env.update(env_extra, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "channels.whatsapp_template", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=str(REPO),
    )


def test_template_message_shape():
    body = template_message(
        "+48 600-100-200", "nps_invite", "pl", ["Ania"], ['/start{"touchpoint":"delivery"}']
    )
    assert body["to"] == "48600100200" and body["type"] == "template"
    assert body["template"]["language"] == {"code": "pl"}
    body_c, button_c = body["template"]["components"]
    assert body_c == {"type": "body", "parameters": [{"type": "text", "text": "Ania"}]}
    assert button_c["sub_type"] == "quick_reply" and button_c["index"] == "0"
    assert button_c["parameters"][0]["payload"] == '/start{"touchpoint":"delivery"}'
    assert "components" not in template_message("1", "t", "pl")["template"]


def test_cli_sends_the_template(outbox):
    done = run_cli(
        [
            "--to",
            "48600100200",
            "--template",
            "nps_invite",
            "--lang",
            "pl",
            "--body-param",
            "Ania",
            "--button-payload",
            '/start{"touchpoint":"store"}',
        ],
        {
            "WHATSAPP_ACCESS_TOKEN": "tok",
            "WHATSAPP_PHONE_NUMBER_ID": WA_PHONE_ID,
            "WHATSAPP_API_URL": outbox.url,
        },
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["message_ids"] == ["wamid.stand-in"]
    (request,) = outbox.requests
    assert request.path == f"/v21.0/{WA_PHONE_ID}/messages"
    assert request.headers["authorization"] == "Bearer tok"
    assert request.json()["template"]["name"] == "nps_invite"


def test_cli_failure_and_usage_errors(outbox):
    outbox.script((400, 0))
    env = {
        "WHATSAPP_ACCESS_TOKEN": "tok",
        "WHATSAPP_PHONE_NUMBER_ID": WA_PHONE_ID,
        "WHATSAPP_API_URL": outbox.url,
    }
    failed = run_cli(["--to", "1", "--template", "t"], env)
    assert failed.returncode == 1 and "not sent" in failed.stderr
    assert run_cli(["--to", "1", "--template", "t"], {}).returncode == 2  # no token
    dry = run_cli(["--to", "1", "--template", "t", "--dry-run"], {})
    assert dry.returncode == 0 and json.loads(dry.stdout)["template"]["name"] == "t"
