"""Recorded webhooks, signed here, posted to a real `rasa run` process.

The bot is the tiny fixture bot (tests/channels/fixture_bot): it asks the 0-10
question with 11 buttons, then a yes/no question, and answers /non_text
kindly. Outgoing calls land on the stand-in server (loopback), where their
shape and platform limits are checked. The tracker store is a SQLite file
read directly.
"""

from __future__ import annotations

import base64
import json

import pytest

from channels import render
from channels.signatures import meta_signature, twilio_signature
from channels.twilio_channel import conversation_of as twilio_conversation
from nps.identity import conversation_id, log_id
from tests.channels.channel_helpers import (
    FB_SECRET,
    FB_TOKEN,
    FB_VERIFY,
    TW_NUMBER,
    TW_PUBLIC_URL,
    TW_SID,
    TW_TOKEN,
    WA_PHONE_ID,
    WA_SECRET,
    WA_TOKEN,
    WA_VERIFY,
    http,
    load_payload,
    new_id,
    new_phone,
    post_meta,
    post_twilio,
    slots,
    twilio_form,
    user_events,
    wait_until,
)

pytestmark = pytest.mark.rasa

SCORE_PAYLOADS = [str(i) for i in range(11)]


def fb_url(rasa):
    return rasa.url + "/webhooks/facebook/webhook"


def wa_url(rasa):
    return rasa.url + "/webhooks/whatsapp/webhook"


def tw_url(rasa):
    return rasa.url + "/webhooks/twilio/webhook"


def messenger_sends(outbox, recipient):
    return [
        r.json()
        for r in outbox.sent_to(lambda r: r.path.endswith("/me/messages"))
        if r.json()["recipient"]["id"] == recipient
    ]


def whatsapp_sends(outbox, recipient):
    return [
        r.json()
        for r in outbox.sent_to(lambda r: r.path.endswith(f"/{WA_PHONE_ID}/messages"))
        if r.json()["to"] == recipient
    ]


def twilio_sends(outbox, recipient):
    return [
        r
        for r in outbox.sent_to(lambda r: r.path.endswith("/Messages.json"))
        if r.form()["To"] == recipient
    ]


# ================================================================ Messenger


class TestMessenger:
    def test_verification_handshake(self, rasa):
        ok = http(
            "GET",
            fb_url(rasa) + f"?hub.mode=subscribe&hub.verify_token={FB_VERIFY}"
            "&hub.challenge=1158201444",
        )
        assert (ok.status, ok.body) == (200, b"1158201444")
        for query in (
            "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
            f"hub.mode=unsubscribe&hub.verify_token={FB_VERIFY}&hub.challenge=1",
            "hub.challenge=1",
        ):
            assert http("GET", fb_url(rasa) + "?" + query).status == 403

    def test_text_gets_the_score_question_as_quick_replies(self, rasa, outbox):
        sender = new_id("psid")
        reply = post_meta(
            fb_url(rasa),
            load_payload("messenger_text.json", SENDER=sender, MID=new_id("m_"), TEXT="hej"),
            FB_SECRET,
        )
        assert reply.status == 200
        sent = messenger_sends(outbox, sender)
        assert [m["message"]["text"] for m in sent] == [
            "Cześć! Zajmie to minutę.",
            "Jak bardzo prawdopodobne jest, że polecisz nas znajomemu? (0-10)",
        ]
        quick = sent[-1]["message"]["quick_replies"]
        assert [q["payload"] for q in quick] == SCORE_PAYLOADS
        assert len(quick) <= render.MESSENGER_MAX_QUICK_REPLIES
        assert all(q["content_type"] == "text" and 0 < len(q["title"]) <= 20 for q in quick)
        assert all(m["messaging_type"] == "RESPONSE" for m in sent)
        request = outbox.sent_to(lambda r: r.path.endswith("/me/messages"))[0]
        assert request.headers["authorization"] == f"Bearer {FB_TOKEN}"
        assert "access_token" not in request.path  # the token never goes in a URL
        users = user_events(rasa.events(conversation_id("messenger", sender)))
        assert [(u["text"], u["input_channel"]) for u in users] == [("hej", "facebook")]

    def test_quick_reply_payload_is_the_user_message(self, rasa, outbox):
        sender = new_id("psid")
        body = load_payload(
            "messenger_quick_reply.json",
            SENDER=sender,
            MID=new_id("m_"),
            TITLE="siedem",
            PAYLOAD="7",
        )
        assert post_meta(fb_url(rasa), body, FB_SECRET).status == 200
        assert [
            u["text"] for u in user_events(rasa.events(conversation_id("messenger", sender)))
        ] == ["7"]
        sent = messenger_sends(outbox, sender)
        assert [q["payload"] for q in sent[-1]["message"]["quick_replies"]] == ["/affirm", "/deny"]

    def test_postback_and_get_started_with_ref(self, rasa, outbox):
        sender = new_id("psid")
        body = load_payload(
            "messenger_postback.json", SENDER=sender, MID=new_id("m_"), PAYLOAD="/affirm"
        )
        assert post_meta(fb_url(rasa), body, FB_SECRET).status == 200
        assert [
            u["text"] for u in user_events(rasa.events(conversation_id("messenger", sender)))
        ] == ["/affirm"]

        sender = new_id("psid")
        body = load_payload("messenger_get_started_referral.json", SENDER=sender, MID=new_id("m_"))
        assert post_meta(fb_url(rasa), body, FB_SECRET).status == 200
        events = rasa.events(conversation_id("messenger", sender))
        assert user_events(events)[0]["text"] == '/start{"touchpoint": "store"}'
        assert slots(events)["touchpoint"] == "store"

    @pytest.mark.parametrize(
        "signature",
        [
            None,  # unsigned
            "sha256=" + "0" * 64,  # forged
            "sha256=",  # empty digest
            "sha1=0123456789abcdef0123456789abcdef01234567",  # Rasa's legacy header style
        ],
    )
    def test_missing_or_bad_signature_is_403(self, rasa, outbox, signature):
        sender = new_id("psid")
        body = load_payload("messenger_text.json", SENDER=sender, MID=new_id("m_"), TEXT="hej")
        reply = post_meta(fb_url(rasa), body, secret=None, signature=signature)
        assert reply.status == 403
        assert rasa.events(conversation_id("messenger", sender)) == []
        assert messenger_sends(outbox, sender) == []

    def test_signed_with_another_secret_is_403(self, rasa, outbox):
        sender = new_id("psid")
        body = load_payload("messenger_text.json", SENDER=sender, MID=new_id("m_"), TEXT="hej")
        assert post_meta(fb_url(rasa), body, "not-our-secret").status == 403
        # A valid signature over different bytes does not carry over either.
        signed_other = post_meta(
            fb_url(rasa), body + b" ", secret=None, signature=meta_signature(FB_SECRET, body)
        )
        assert signed_other.status == 403
        assert rasa.events(conversation_id("messenger", sender)) == []
        assert messenger_sends(outbox, sender) == []

    def test_batch_every_event_of_every_entry(self, rasa, outbox):
        a, b, c = new_id("psidA"), new_id("psidB"), new_id("psidC")
        body = load_payload(
            "messenger_batch.json",
            SENDER_A=a,
            SENDER_B=b,
            SENDER_C=c,
            MID_A=new_id("m_"),
            MID_B=new_id("m_"),
            MID_B2=new_id("m_"),
        )
        assert post_meta(fb_url(rasa), body, FB_SECRET).status == 200
        assert [u["text"] for u in user_events(rasa.events(conversation_id("messenger", a)))] == [
            "hej"
        ]
        # the echo between B's two messages is skipped, the quick reply is taken
        assert [u["text"] for u in user_events(rasa.events(conversation_id("messenger", b)))] == [
            "cześć",
            "7",
        ]
        assert rasa.events(conversation_id("messenger", c)) == []  # standby entry: not ours
        assert messenger_sends(outbox, a) and messenger_sends(outbox, b)
        assert messenger_sends(outbox, c) == []

    def test_redelivered_webhook_is_handled_once(self, rasa, outbox):
        sender = new_id("psid")
        body = load_payload("messenger_text.json", SENDER=sender, MID=new_id("m_"), TEXT="hej")
        assert post_meta(fb_url(rasa), body, FB_SECRET).status == 200
        sent_once = len(messenger_sends(outbox, sender))
        assert post_meta(fb_url(rasa), body, FB_SECRET).status == 200
        assert len(user_events(rasa.events(conversation_id("messenger", sender)))) == 1
        assert len(messenger_sends(outbox, sender)) == sent_once

    def test_echoed_attachment_is_ignored(self, rasa, outbox):
        sender = new_id("psid")
        body = load_payload("messenger_echo_attachment.json", SENDER=sender)
        assert post_meta(fb_url(rasa), body, FB_SECRET).status == 200
        assert rasa.events(conversation_id("messenger", sender)) == []
        assert messenger_sends(outbox, sender) == []

    @pytest.mark.parametrize("payload", ["messenger_image.json", "messenger_sticker.json"])
    def test_attachment_becomes_non_text(self, rasa, outbox, payload):
        sender = new_id("psid")
        body = load_payload(payload, SENDER=sender, MID=new_id("m_"))
        assert post_meta(fb_url(rasa), body, FB_SECRET).status == 200
        users = user_events(rasa.events(conversation_id("messenger", sender)))
        assert [(u["text"], u["parse_data"]["intent"]["name"]) for u in users] == [
            ("/non_text", "non_text")
        ]
        assert [m["message"]["text"] for m in messenger_sends(outbox, sender)] == [
            "Dziękuję, ale rozumiem tylko tekst."
        ]

    def test_malformed_json_is_400(self, rasa, outbox):
        assert post_meta(fb_url(rasa), b'{"object": "page", "entry": [', FB_SECRET).status == 400
        assert post_meta(fb_url(rasa), b'["not", "an", "object"]', FB_SECRET).status == 400
        assert outbox.requests == []

    def test_oversize_body_is_413(self, rasa, outbox):
        body = json.dumps({"object": "page", "entry": [], "pad": "x" * (3 * 1024 * 1024)})
        assert post_meta(fb_url(rasa), body.encode(), FB_SECRET).status == 413

    def test_other_objects_are_acknowledged_and_ignored(self, rasa, outbox):
        body = json.dumps(
            {
                "object": "instagram",
                "entry": [
                    {
                        "id": "1",
                        "messaging": [
                            {"sender": {"id": "x"}, "message": {"mid": "m", "text": "hej"}}
                        ],
                    }
                ],
            }
        ).encode()
        assert post_meta(fb_url(rasa), body, FB_SECRET).status == 200
        assert outbox.requests == []


# ================================================================= WhatsApp


def wa(name, sender, **values):
    return load_payload(name, SENDER=sender, PHONE_ID=WA_PHONE_ID, **values)


class TestWhatsApp:
    def test_verification_handshake(self, rasa):
        ok = http(
            "GET",
            wa_url(rasa) + f"?hub.mode=subscribe&hub.verify_token={WA_VERIFY}&hub.challenge=abc123",
        )
        assert (ok.status, ok.body) == (200, b"abc123")
        bad = http("GET", wa_url(rasa) + "?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1")
        assert bad.status == 403

    def test_conversation_text_buttons_and_limits(self, rasa, outbox):
        sender = new_phone()
        assert (
            post_meta(
                wa_url(rasa),
                wa("whatsapp_text.json", sender, MID=new_id("wamid."), TEXT="hej"),
                WA_SECRET,
            ).status
            == 200
        )
        sent = whatsapp_sends(outbox, sender)
        assert all(m["messaging_product"] == "whatsapp" for m in sent)
        # 11 options fit neither 3 buttons nor 10 rows: a typed number, said clearly
        assert [m["type"] for m in sent] == ["text", "text"]
        assert sent[-1]["text"]["body"].endswith(
            render.DEFAULT_TEXTS.scale_hint.format(lo=0, hi=10)
        )
        assert all(len(m["text"]["body"]) <= render.WHATSAPP_TEXT_MAX for m in sent)
        request = outbox.sent_to(lambda r: r.path.endswith("/messages"))[0]
        assert request.headers["authorization"] == f"Bearer {WA_TOKEN}"

        outbox.reset()
        assert (
            post_meta(
                wa_url(rasa),
                wa("whatsapp_text.json", sender, MID=new_id("wamid."), TEXT="7"),
                WA_SECRET,
            ).status
            == 200
        )
        (question,) = whatsapp_sends(outbox, sender)
        assert question["type"] == "interactive"
        interactive = question["interactive"]
        assert interactive["type"] == "button"
        buttons = interactive["action"]["buttons"]
        assert len(buttons) <= render.WHATSAPP_MAX_REPLY_BUTTONS
        assert [(b["reply"]["id"], b["reply"]["title"]) for b in buttons] == [
            ("/affirm", "Tak"),
            ("/deny", "Nie"),
        ]
        assert all(len(b["reply"]["title"]) <= render.WHATSAPP_BUTTON_TITLE_MAX for b in buttons)
        assert len(interactive["body"]["text"]) <= render.WHATSAPP_INTERACTIVE_BODY_MAX

        outbox.reset()
        assert (
            post_meta(
                wa_url(rasa),
                wa(
                    "whatsapp_button_reply.json",
                    sender,
                    MID=new_id("wamid."),
                    PAYLOAD="/affirm",
                    TITLE="Tak",
                ),
                WA_SECRET,
            ).status
            == 200
        )
        assert [m["text"]["body"] for m in whatsapp_sends(outbox, sender)] == [
            "Dziękuję za rozmowę!"
        ]
        users = user_events(rasa.events(conversation_id("whatsapp", sender)))
        assert [u["text"] for u in users] == ["hej", "7", "/affirm"]
        assert {u["input_channel"] for u in users} == {"whatsapp"}

    def test_list_reply_payload_is_the_user_message(self, rasa, outbox):
        sender = new_phone()
        body = wa(
            "whatsapp_list_reply.json", sender, MID=new_id("wamid."), PAYLOAD="/deny", TITLE="Nie"
        )
        assert post_meta(wa_url(rasa), body, WA_SECRET).status == 200
        assert [
            u["text"] for u in user_events(rasa.events(conversation_id("whatsapp", sender)))
        ] == ["/deny"]

    def test_template_button_starts_with_touchpoint(self, rasa, outbox):
        sender = new_phone()
        body = wa("whatsapp_template_button.json", sender, MID=new_id("wamid."))
        assert post_meta(wa_url(rasa), body, WA_SECRET).status == 200
        events = rasa.events(conversation_id("whatsapp", sender))
        assert slots(events)["touchpoint"] == "delivery"
        assert whatsapp_sends(outbox, sender)

    def test_status_callbacks_are_ignored(self, rasa, outbox):
        sender = new_phone()
        assert post_meta(wa_url(rasa), wa("whatsapp_status.json", sender), WA_SECRET).status == 200
        assert rasa.events(conversation_id("whatsapp", sender)) == [] and outbox.requests == []

    def test_redelivered_message_is_handled_once(self, rasa, outbox):
        sender = new_phone()
        body = wa("whatsapp_text.json", sender, MID=new_id("wamid."), TEXT="hej")
        for _ in range(3):
            assert post_meta(wa_url(rasa), body, WA_SECRET).status == 200
        assert len(user_events(rasa.events(conversation_id("whatsapp", sender)))) == 1
        assert len(whatsapp_sends(outbox, sender)) == 2  # one turn: two bubbles

    def test_image_becomes_non_text(self, rasa, outbox):
        sender = new_phone()
        assert (
            post_meta(
                wa_url(rasa), wa("whatsapp_image.json", sender, MID=new_id("wamid.")), WA_SECRET
            ).status
            == 200
        )
        assert [
            u["text"] for u in user_events(rasa.events(conversation_id("whatsapp", sender)))
        ] == ["/non_text"]
        assert [m["text"]["body"] for m in whatsapp_sends(outbox, sender)] == [
            "Dziękuję, ale rozumiem tylko tekst."
        ]

    def test_message_for_another_number_is_ignored(self, rasa, outbox):
        sender = new_phone()
        body = load_payload(
            "whatsapp_text.json",
            SENDER=sender,
            PHONE_ID="999999999999",
            MID=new_id("wamid."),
            TEXT="hej",
        )
        assert post_meta(wa_url(rasa), body, WA_SECRET).status == 200
        assert rasa.events(conversation_id("whatsapp", sender)) == [] and outbox.requests == []

    @pytest.mark.parametrize(
        "secret,signature",
        [
            (None, None),
            (None, "sha256=" + "f" * 64),
            ("wrong-secret", None),
            (FB_SECRET, None),  # Messenger's app secret is not WhatsApp's
        ],
    )
    def test_missing_or_bad_signature_is_403(self, rasa, outbox, secret, signature):
        sender = new_phone()
        body = wa("whatsapp_text.json", sender, MID=new_id("wamid."), TEXT="hej")
        assert post_meta(wa_url(rasa), body, secret, signature).status == 403
        assert rasa.events(conversation_id("whatsapp", sender)) == [] and outbox.requests == []

    def test_malformed_and_oversize(self, rasa, outbox):
        assert post_meta(wa_url(rasa), b"{not json", WA_SECRET).status == 400
        big = json.dumps(
            {"object": "whatsapp_business_account", "pad": "x" * (3 * 1024 * 1024)}
        ).encode()
        assert post_meta(wa_url(rasa), big, WA_SECRET).status == 413


# =================================================================== Twilio


class TestTwilio:
    def test_sms_conversation_with_numbered_options(self, rasa, outbox):
        sender = new_phone("+48")
        params = twilio_form("twilio_sms.txt", SENDER=sender, MID=new_id("SM"), TEXT="hej")
        reply = post_twilio(tw_url(rasa), params, TW_TOKEN)
        assert reply.status == 200
        assert reply.headers["content-type"].startswith("text/xml")
        assert b"<Response></Response>" in reply.body
        sent = twilio_sends(outbox, sender)
        forms = [r.form() for r in sent]
        assert [f["From"] for f in forms] == [TW_NUMBER, TW_NUMBER]
        assert forms[-1]["Body"].endswith(render.DEFAULT_TEXTS.scale_hint.format(lo=0, hi=10))
        assert all(len(f["Body"]) <= render.SMS_BODY_MAX for f in forms)
        assert sent[0].path == f"/2010-04-01/Accounts/{TW_SID}/Messages.json"
        auth = base64.b64decode(sent[0].headers["authorization"].split()[1]).decode()
        assert auth == f"{TW_SID}:{TW_TOKEN}"

        outbox.reset()
        params = twilio_form("twilio_sms.txt", SENDER=sender, MID=new_id("SM"), TEXT="7")
        assert post_twilio(tw_url(rasa), params, TW_TOKEN).status == 200
        (question,) = [r.form() for r in twilio_sends(outbox, sender)]
        assert "1. Tak\n2. Nie" in question["Body"]

        outbox.reset()  # "1" means the first option offered: /affirm
        params = twilio_form("twilio_sms.txt", SENDER=sender, MID=new_id("SM"), TEXT="1")
        assert post_twilio(tw_url(rasa), params, TW_TOKEN).status == 200
        assert [r.form()["Body"] for r in twilio_sends(outbox, sender)] == ["Dziękuję za rozmowę!"]
        users = user_events(rasa.events(twilio_conversation(sender)))
        assert [u["text"] for u in users] == ["hej", "7", "/affirm"]
        assert {u["input_channel"] for u in users} == {"twilio"}

    def test_whatsapp_via_twilio_media_and_sender(self, rasa, outbox):
        sender = "whatsapp:" + new_phone("+48")
        params = twilio_form("twilio_whatsapp_media.txt", SENDER=sender, MID=new_id("MM"))
        assert post_twilio(tw_url(rasa), params, TW_TOKEN).status == 200
        assert [u["text"] for u in user_events(rasa.events(twilio_conversation(sender)))] == [
            "/non_text"
        ]
        (sent,) = [r.form() for r in twilio_sends(outbox, sender)]
        assert sent["From"] == "whatsapp:" + TW_NUMBER  # replies from the WhatsApp sender

    def test_without_body_is_a_clean_200(self, rasa, outbox):
        sender = new_phone("+48")
        params = twilio_form("twilio_no_body.txt", SENDER=sender, MID=new_id("SM"))
        reply = post_twilio(tw_url(rasa), params, TW_TOKEN)
        assert reply.status == 200 and b"<Response></Response>" in reply.body
        assert rasa.events(twilio_conversation(sender)) == [] and outbox.requests == []

    def test_signature_must_cover_the_public_url(self, rasa, outbox):
        sender = new_phone("+48")
        params = twilio_form("twilio_sms.txt", SENDER=sender, MID=new_id("SM"), TEXT="hej")
        # signed for the URL Rasa sees, not the public one Twilio knows: refused
        assert post_twilio(tw_url(rasa), params, TW_TOKEN, signed_url=tw_url(rasa)).status == 403
        assert post_twilio(tw_url(rasa), params, None).status == 403  # unsigned
        assert post_twilio(tw_url(rasa), params, "wrong-token").status == 403
        tampered = dict(params, Body="10")
        signature = twilio_signature(TW_TOKEN, TW_PUBLIC_URL, params)
        assert post_twilio(tw_url(rasa), tampered, None, signature=signature).status == 403
        assert rasa.events(twilio_conversation(sender)) == [] and outbox.requests == []
        # Twilio sometimes signs with the default port: accepted
        with_port = TW_PUBLIC_URL.replace("nps.example.com", "nps.example.com:443")
        assert post_twilio(tw_url(rasa), params, TW_TOKEN, signed_url=with_port).status == 200

    def test_redelivery_and_oversize(self, rasa, outbox):
        sender = new_phone("+48")
        params = twilio_form("twilio_sms.txt", SENDER=sender, MID=new_id("SM"), TEXT="hej")
        assert post_twilio(tw_url(rasa), params, TW_TOKEN).status == 200
        assert post_twilio(tw_url(rasa), params, TW_TOKEN).status == 200
        assert len(user_events(rasa.events(twilio_conversation(sender)))) == 1
        big = dict(params, Body="x" * (300 * 1024))
        assert post_twilio(tw_url(rasa), big, TW_TOKEN).status == 413


# =========================================================== outgoing failures


class TestOutgoingFailures:
    def test_transient_failure_is_retried(self, rasa, outbox):
        sender = new_id("psid")
        # Two refusals Meta asks us to retry (503), then 200. A bare 500 would
        # be "unknown": maybe delivered, so never resent.
        outbox.script((503, 0.0), (503, 0.0))
        body = load_payload("messenger_text.json", SENDER=sender, MID=new_id("m_"), TEXT="hej")
        assert post_meta(fb_url(rasa), body, FB_SECRET).status == 200
        # The outbox's worker retries after a back-off, after the webhook answered.
        wait_until(lambda: len(messenger_sends(outbox, sender)) >= 4, timeout=30)
        sent = messenger_sends(outbox, sender)
        # first bubble tried 3 times, then the second bubble once
        texts = [m["message"]["text"] for m in sent]
        assert texts[:3] == [texts[0]] * 3 and len(sent) == 4 and texts[3] != texts[0]

    def test_permanent_failure_does_not_break_the_turn(self, rasa, outbox):
        sender = new_phone()
        outbox.script(*[(400, 0.0)] * 5)
        body = wa("whatsapp_text.json", sender, MID=new_id("wamid."), TEXT="hej")
        assert post_meta(wa_url(rasa), body, WA_SECRET).status == 200
        # 400 is not retried; the rest of that message is not sent out of order
        assert len(whatsapp_sends(outbox, sender)) == 1
        events = rasa.events(conversation_id("whatsapp", sender))
        assert any(e["event"] == "bot" for e in events)  # the turn completed and was stored
        # the failure is logged under the conversation's keyed hash, never the number
        log = rasa.log_tail(20000)
        assert "whatsapp send" in log and log_id(conversation_id("whatsapp", sender)) in log
        assert sender not in log and "hej" not in log
