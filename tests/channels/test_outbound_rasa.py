"""The outbox behind a real `rasa run`: a reply the platform refused for a
moment is sent later by the retry worker, in order, and recorded in the
tracker database; a WhatsApp "failed" delivery status lands on the row of
the message it is about."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from nps.identity import conversation_id
from storage.outbox_schema import TABLE
from tests.channels.channel_helpers import (
    FB_SECRET,
    WA_PHONE_ID,
    WA_SECRET,
    RasaProcess,
    channel_env,
    load_payload,
    new_id,
    new_phone,
    post_meta,
    wait_until,
)

pytestmark = pytest.mark.rasa


@pytest.fixture(scope="module")
def rasa_with_outbox(fixture_model, stand_in, tmp_path_factory):
    """Rasa whose outbox is in its own tracker database (NPS_DB_URL)."""
    workdir = tmp_path_factory.mktemp("rasa-outbox")
    env = {**channel_env(stand_in.url), "NPS_DB_URL": f"sqlite:///{workdir / 'tracker.db'}"}
    process = RasaProcess(fixture_model, workdir, env).start()
    yield process
    process.stop()


def outbox_rows(rasa: RasaProcess, conversation: str) -> list[dict]:
    engine = sa.create_engine(f"sqlite:///{rasa.db_path}")
    try:
        with engine.connect() as conn:
            query = sa.text(
                f"SELECT seq, state, attempts, last_error FROM {TABLE} "  # noqa: S608 (our table)
                "WHERE conversation_id = :c ORDER BY id"
            )
            return [dict(r._mapping) for r in conn.execute(query, {"c": conversation})]
    finally:
        engine.dispose()


def test_a_refused_reply_is_sent_later_in_order(rasa_with_outbox, outbox):
    rasa = rasa_with_outbox
    sender = new_id("psid")
    outbox.script((503, 0.0), (503, 0.0))  # Meta unavailable twice, then fine
    body = load_payload("messenger_text.json", SENDER=sender, MID=new_id("m_"), TEXT="hej")
    assert post_meta(rasa.url + "/webhooks/facebook/webhook", body, FB_SECRET).status == 200

    def sent():
        return [
            r.json()["message"]["text"]
            for r in outbox.sent_to(lambda r: r.path.endswith("/me/messages"))
            if r.json()["recipient"]["id"] == sender
        ]

    assert wait_until(lambda: len(sent()) >= 4, timeout=30)
    intro, question = "Cześć! Zajmie to minutę.", sent()[-1]
    assert sent() == [intro, intro, intro, question]  # the question never before the intro
    rows = outbox_rows(rasa, conversation_id("messenger", sender))
    assert [(r["state"], r["attempts"]) for r in rows] == [("sent", 3), ("sent", 1)]


def test_whatsapp_failed_status_is_recorded(rasa_with_outbox, outbox):
    rasa = rasa_with_outbox
    phone = new_phone()
    conversation = conversation_id("whatsapp", phone)
    text = load_payload(
        "whatsapp_text.json", SENDER=phone, PHONE_ID=WA_PHONE_ID, MID=new_id("wamid."), TEXT="hej"
    )
    url = rasa.url + "/webhooks/whatsapp/webhook"
    assert post_meta(url, text, WA_SECRET).status == 200
    assert wait_until(lambda: outbox_rows(rasa, conversation))
    # The stand-in gives every message the id "wamid.stand-in".
    status = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"phone_number_id": WA_PHONE_ID},
                            "statuses": [
                                {
                                    "id": "wamid.stand-in",
                                    "status": "failed",
                                    "recipient_id": phone,
                                    "errors": [{"code": 131047, "title": "Re-engagement"}],
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    assert post_meta(url, json.dumps(status).encode(), WA_SECRET).status == 200
    assert wait_until(lambda: all(r["state"] == "failed" for r in outbox_rows(rasa, conversation)))
    assert "131047" in outbox_rows(rasa, conversation)[0]["last_error"]
    assert phone not in rasa.log_tail(20000)
