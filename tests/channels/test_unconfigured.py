"""Channels without their environment variables must not stop `rasa run`:
they answer 503 and every other channel keeps working."""

import json

import pytest

from channels.messenger import MessengerInput
from channels.twilio_channel import TwilioInput
from channels.whatsapp import WhatsAppInput
from tests.channels.channel_helpers import (
    CHANNEL_ENV_NAMES,
    REPO,
    RasaProcess,
    http,
    post_meta,
    post_twilio,
)

CHANNEL_CLASSES = {
    "channels.messenger.MessengerInput": MessengerInput,
    "channels.whatsapp.WhatsAppInput": WhatsAppInput,
    "channels.twilio_channel.TwilioInput": TwilioInput,
}


@pytest.fixture()
def no_channel_env(monkeypatch):
    for name in CHANNEL_ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_credentials_file_loads_with_rasa_and_no_env(no_channel_env):
    import rasa.shared.utils.io

    credentials = rasa.shared.utils.io.read_config_file(str(REPO / "credentials.yml"))
    production = rasa.shared.utils.io.read_config_file(str(REPO / "credentials.production.yml"))
    # Rasa's own socketio and rest are replaced by ours, under the same names
    web = "channels.webchat_socket.WebChatInput"
    assert (
        credentials[web]
        == production[web]
        == {
            "user_message_evt": "user_uttered",
            "bot_message_evt": "bot_uttered",
        }
    )
    assert "channels.rest.RestInput" in credentials
    assert not {"socketio", "rest", "rasa"} & (set(credentials) | set(production))
    # production: every channel of development except the REST channel
    assert set(production) == set(credentials) - {"channels.rest.RestInput"}
    for path, cls in CHANNEL_CLASSES.items():
        channel = cls.from_credentials(credentials[path])
        assert channel.configured is False
    assert {cls.name() for cls in CHANNEL_CLASSES.values()} == {"facebook", "whatsapp", "twilio"}


def test_from_credentials_tolerates_none_and_empty():
    for cls in CHANNEL_CLASSES.values():
        assert cls.from_credentials(None).configured is False
        assert cls.from_credentials({}).configured is False


@pytest.mark.rasa
def test_rasa_runs_and_unconfigured_channels_answer_503(fixture_model, tmp_path):
    rasa = RasaProcess(fixture_model, tmp_path, env={}).start()
    try:
        for path in ("facebook", "whatsapp"):
            reply = post_meta(f"{rasa.url}/webhooks/{path}/webhook", b"{}", "any")
            assert reply.status == 503 and "not configured" in reply.json()["error"]
            verify = http(
                "GET",
                f"{rasa.url}/webhooks/{path}/webhook?hub.mode=subscribe"
                "&hub.verify_token=&hub.challenge=1",
            )
            assert verify.status == 503
            assert http("GET", f"{rasa.url}/webhooks/{path}/").json()["configured"] is False
        assert post_twilio(f"{rasa.url}/webhooks/twilio/webhook", {"Body": "x"}, "t").status == 503
        # the REST channel of the same process answers as usual
        reply = http(
            "POST",
            f"{rasa.url}/webhooks/rest/webhook",
            json.dumps({"sender": "u1", "message": "hej"}).encode(),
            {"Content-Type": "application/json"},
        )
        assert reply.status == 200 and reply.json()[0]["text"].startswith("Cześć")
        assert rasa.events("rest:u1")[0]["event"] == "action"  # stored in the tracker
        users = [e for e in rasa.events("rest:u1") if e["event"] == "user"]
        assert [e["input_channel"] for e in users] == ["rest"]
    finally:
        rasa.stop()
