"""Pure parsing of recorded webhooks into user messages (no server)."""

import json
from urllib.parse import urlencode

import pytest

from actions.survey import ActionStartSurvey
from channels.messenger import event_text, messenger_events, start_payload
from channels.twilio_channel import form_params, incoming_from_form
from channels.webhook_input import NON_TEXT, credential
from channels.whatsapp import message_text, whatsapp_events
from tests.action_harness import run, slot_events, tracker_for
from tests.channels.channel_helpers import load_payload, twilio_form


def messenger(name, **values):
    return json.loads(load_payload(name, **values))


def test_messenger_batch_order_and_filtering():
    payload = messenger(
        "messenger_batch.json",
        SENDER_A="a",
        SENDER_B="b",
        SENDER_C="c",
        MID_A="m1",
        MID_B="m2",
        MID_B2="m3",
    )
    assert [(i.sender_id, i.text, i.message_id) for i in messenger_events(payload)] == [
        ("messenger:a", "hej", "m1"),
        ("messenger:b", "cześć", "m2"),
        ("messenger:b", "7", "m3"),
    ]


@pytest.mark.parametrize(
    "event,expected",
    [
        ({"message": {"text": "hej"}}, "hej"),
        ({"message": {"text": "siedem", "quick_reply": {"payload": "7"}}}, "7"),
        ({"message": {"text": "x", "is_echo": True}}, None),
        ({"message": {"attachments": [{"type": "audio", "payload": {"url": "u"}}]}}, NON_TEXT),
        ({"message": {"attachments": [{"type": "video"}]}}, NON_TEXT),
        ({"message": {"attachments": [{"type": "file"}]}}, NON_TEXT),
        ({"message": {"attachments": [{"type": "image"}], "is_echo": True}}, None),
        ({"message": {"text": "   "}}, None),
        ({"postback": {"payload": "/restart"}}, "/restart"),
        (
            {"postback": {"payload": "/start", "referral": {"ref": "delivery"}}},
            '/start{"touchpoint": "delivery"}',
        ),
        ({"referral": {"ref": "store", "source": "SHORTLINK"}}, '/start{"touchpoint": "store"}'),
        ({"delivery": {"mids": ["m"]}}, None),
        ({"read": {"watermark": 1}}, None),
        ({"reaction": {"reaction": "love", "action": "react"}}, None),
    ],
)
def test_messenger_event_text(event, expected):
    assert event_text(event) == expected


@pytest.mark.parametrize(
    "ref,expected",
    [
        ("store", '/start{"touchpoint": "store"}'),
        ("Summer.Sale", '/start{"touchpoint": "summer.sale"}'),
        ('x"}{"nps_score": 10', "/start"),  # not an id: dropped, no JSON injection
        ("!!!", "/start"),
        ("x" * 65, "/start"),
    ],
)
def test_start_payload_keeps_only_a_clean_touchpoint(ref, expected):
    assert start_payload(ref) == expected


@pytest.mark.parametrize("ref", ["store", "summer.sale", "app-ios_2", "x" * 64])
def test_an_m_me_ref_survives_the_channel_and_the_start_action(ref):
    # The channel builds the payload; ActionStartSurvey cleans the slot again.
    # A ref the channel keeps must not be rewritten or dropped by the action.
    touchpoint = json.loads(start_payload(ref).removeprefix("/start"))["touchpoint"]
    assert touchpoint == ref
    tracker = tracker_for("/start", intent="start", slots={"touchpoint": touchpoint})
    events, _ = run(ActionStartSurvey(), tracker)
    assert "touchpoint" not in slot_events(events)


def test_messenger_malformed_shapes_do_not_raise():
    for payload in (
        {},
        {"object": "page"},
        {"object": "page", "entry": None},
        {"object": "page", "entry": ["x", {"messaging": ["y", {}]}]},
    ):
        assert messenger_events(payload) == []


def wa(name, **values):
    return json.loads(load_payload(name, PHONE_ID="42", **values))


def test_whatsapp_events():
    assert [
        (i.sender_id, i.text)
        for i in whatsapp_events(
            wa("whatsapp_text.json", SENDER="48600100200", MID="w1", TEXT="hej"), "42"
        )
    ] == [("whatsapp:+48600100200", "hej")]
    assert whatsapp_events(wa("whatsapp_status.json", SENDER="48600"), "42") == []
    assert whatsapp_events(wa("whatsapp_text.json", SENDER="1", MID="w", TEXT="x"), "other") == []
    assert [
        i.text
        for i in whatsapp_events(
            wa("whatsapp_list_reply.json", SENDER="48600100201", MID="w", PAYLOAD="/p", TITLE="t")
        )
    ] == ["/p"]
    assert [
        i.text
        for i in whatsapp_events(wa("whatsapp_template_button.json", SENDER="48600100201", MID="w"))
    ] == ['/start{"touchpoint":"delivery"}']


@pytest.mark.parametrize(
    "message,expected",
    [
        ({"type": "text", "text": {"body": "8/10"}}, "8/10"),
        (
            {
                "type": "interactive",
                "interactive": {
                    "type": "button_reply",
                    "button_reply": {"id": "/affirm", "title": "Tak"},
                },
            },
            "/affirm",
        ),
        ({"type": "audio", "audio": {"id": "1", "voice": True}}, NON_TEXT),
        ({"type": "sticker", "sticker": {"id": "1"}}, NON_TEXT),
        ({"type": "location", "location": {"latitude": 52.2}}, NON_TEXT),
        ({"type": "reaction", "reaction": {"emoji": "👍"}}, None),
        ({"type": "system", "system": {"body": "changed number"}}, None),
        ({"type": "text", "text": {}}, None),
    ],
)
def test_whatsapp_message_text(message, expected):
    assert message_text(message) == expected


def test_twilio_incoming():
    params = form_params(
        urlencode(
            twilio_form(
                "twilio_sms.txt", SENDER="+48600100200", MID="SM1", TEXT="kontakt¡example.com"
            )
        ).encode()
    )
    incoming = incoming_from_form(params)
    assert (incoming.sender_id, incoming.text, incoming.message_id) == (
        "sms:+48600100200",
        "kontakt@example.com",
        "SM1",
    )
    media = form_params(
        urlencode(
            twilio_form("twilio_whatsapp_media.txt", SENDER="whatsapp:+48600100200", MID="MM1")
        ).encode()
    )
    assert incoming_from_form(media).text == NON_TEXT
    # WhatsApp through Twilio is the same conversation as on the Cloud API
    assert incoming_from_form(media).sender_id == "whatsapp:+48600100200"
    location = form_params(b"From=%2B48600100200&Latitude=52.2&Longitude=21.0")
    assert incoming_from_form(location).text == NON_TEXT
    assert (
        incoming_from_form(
            form_params(
                urlencode(
                    twilio_form("twilio_no_body.txt", SENDER="+48600100200", MID="SM2")
                ).encode()
            )
        )
        is None
    )
    assert incoming_from_form(form_params(b"Body=hej")) is None  # no sender
    assert incoming_from_form(form_params(b"\xff\xfe=%zz&From=48600100200&Body=x")).text == "x"
    # a From that is no phone number keys no conversation: ignored
    assert incoming_from_form(form_params(b"From=abc&Body=x")) is None


def test_credential_expands_environment_and_tolerates_unset(monkeypatch):
    monkeypatch.setenv("NPS_T_SET", "s3cret")
    monkeypatch.delenv("NPS_T_UNSET", raising=False)
    creds = {
        "a": "${NPS_T_SET}",
        "b": "${NPS_T_UNSET}",
        "c": None,
        "d": "plain",
        "e": "pre-${NPS_T_SET}",
    }
    assert [credential(creds, k) for k in "abcdef"] == ["s3cret", "", "", "plain", "pre-s3cret", ""]
    assert credential(creds, "b", "default") == "default"
    assert credential(None, "a") == ""
