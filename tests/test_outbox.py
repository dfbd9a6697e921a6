"""The durable outbox (channels/outbox.py) on SQLite and PostgreSQL, with the
real connectors sending to a local aiohttp stand-in of Meta's and Twilio's
APIs: a turn's parts stored once, sent in order, retried by the worker when
the platform says so, never resent after a read timeout, never sent twice by
two processes; WhatsApp's failed statuses recorded; erasure and retention
reach the table."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
import sqlalchemy as sa

from channels import outbox as outbox_module
from channels.messenger import MessengerInput
from channels.outbound import Outcome, RetryPolicy, SendResult
from channels.outbox import Outbox, Worker, dispatch, next_state, retry_delay
from channels.twilio_channel import TwilioInput
from channels.whatsapp import WhatsAppInput, failed_statuses, record_failures
from storage import erasure, retention
from storage.outbox_schema import FAILED, RETRY, SENDING, SENT, TABLE, UNKNOWN
from tests.channels.outbound_stand_in import Answer, PlatformStandIn, graph_error
from tests.databases import fresh_database

ALICE = "messenger:1001"
BOB = "messenger:1002"
FAST = RetryPolicy(timeout=2, connect_timeout=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture()
def box(db_url):
    box = Outbox(db_url)
    yield box
    box.dispose()


def messenger(api: PlatformStandIn, policy: RetryPolicy = FAST) -> MessengerInput:
    return api.track(
        MessengerInput(secret="s", page_access_token="t", graph_url=api.url, policy=policy)
    )


def rows(box: Outbox, conversation: str | None = None) -> list[dict]:
    t = box.table
    query = sa.select(t).order_by(t.c.id)
    if conversation:
        query = query.where(t.c.conversation_id == conversation)
    with box.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def texts(api: PlatformStandIn, recipient: str | None = None) -> list[str]:
    sent = [r.json() for r in api.received]
    return [
        s["message"]["text"] for s in sent if recipient is None or s["recipient"]["id"] == recipient
    ]


def say(*words: str) -> list[dict]:
    return [{"text": w} for w in words]


async def drain(worker: Worker, rounds: int = 50) -> None:
    """Worker passes until nothing is due (rows waiting on a delay stay)."""
    for _ in range(rounds):
        if not await worker.run_once():
            return


# ------------------------------------------------------------- pure rules


def test_retry_delay_honours_retry_after_else_backs_off():
    assert retry_delay(1, 7.5) == 7.5
    assert 0.5 <= retry_delay(1, None) <= 1.0
    assert 4.0 <= retry_delay(4, None) <= 8.0
    assert retry_delay(30, None, rand=lambda: 0.999) <= outbox_module.BACKOFF_CAP


@pytest.mark.parametrize(
    "outcome,retry_after,age,expected",
    [
        (Outcome.SENT, None, 0, SENT),
        (Outcome.UNKNOWN, None, 0, UNKNOWN),
        (Outcome.PERMANENT, None, 0, FAILED),
        (Outcome.RETRY, 5.0, 0, RETRY),
        (Outcome.RETRY, 5.0, 3600 - 1, FAILED),  # the next try would be too late
    ],
)
def test_next_state(outcome, retry_after, age, expected):
    result = SendResult(outcome, retry_after=retry_after)
    state, when = next_state(result, 1, created_at=1000.0, now=1000.0 + age, max_age=3600)
    assert state == expected
    assert (when == 1000.0 + age + retry_after) if state == RETRY else when is None


# ------------------------------------------------------------- dispatch


def test_a_turn_dispatched_twice_is_stored_and_sent_once(box):
    async def scenario():
        async with PlatformStandIn() as api:
            output = messenger(api).get_output_channel()
            for _ in range(2):
                await dispatch(output, ALICE, say("Cześć", "Pytanie 0-10"), "m_1", outbox=box)
            # and at once, as two processes would
            await asyncio.gather(
                *(dispatch(output, BOB, say("A", "B"), "m_2", outbox=box) for _ in range(2))
            )
            return api

    api = asyncio.run(scenario())
    assert texts(api, "1001") == ["Cześć", "Pytanie 0-10"]
    assert texts(api, "1002") == ["A", "B"]
    stored = rows(box)
    assert [(r["turn_key"], r["seq"], r["state"]) for r in stored] == [
        ("m_1", 0, SENT),
        ("m_1", 1, SENT),
        ("m_2", 0, SENT),
        ("m_2", 1, SENT),
    ]
    assert [r["platform_message_id"] for r in stored] == ["mid.1", "mid.2", "mid.3", "mid.4"]
    assert all(r["attempts"] == 1 for r in stored)


def test_worker_retries_after_the_platform_recovers_in_order(box):
    async def scenario():
        async with PlatformStandIn() as api:
            connector = messenger(api)
            output = connector.get_output_channel()
            # Meta down: part 1 cannot go, and part 2 must wait for it
            api.then(Answer(503, {}, {"Retry-After": "0"}))
            await dispatch(output, ALICE, say("jeden", "dwa"), "m_1", outbox=box)
            # the next turn of the same customer waits behind them (not even tried)
            await dispatch(output, ALICE, say("trzy"), "m_2", outbox=box)
            after_dispatch = [r["state"] for r in rows(box)]
            await drain(Worker(connector, outbox=box, poll_seconds=0.01))
            return api, after_dispatch

    api, after_dispatch = asyncio.run(scenario())
    assert after_dispatch == [RETRY, "pending", "pending"]
    assert texts(api) == ["jeden", "jeden", "dwa", "trzy"]  # 503, then all in order
    assert [(r["state"], r["attempts"]) for r in rows(box)] == [(SENT, 2), (SENT, 1), (SENT, 1)]


def test_throttled_then_ok_is_sent_once_after_the_delay(box):
    async def scenario():
        async with PlatformStandIn() as api:
            connector = messenger(api)
            api.then(Answer(400, graph_error(613), {"Retry-After": "1"}))
            await dispatch(connector.get_output_channel(), ALICE, say("hej"), "m_1", outbox=box)
            worker = Worker(connector, outbox=box)
            while not api.received[1:]:
                await worker.run_once()
                await asyncio.sleep(0.05)
            return api

    api = asyncio.run(scenario())
    first, second = api.received
    assert second.at - first.at >= 1.0  # not before the platform said
    assert texts(api) == ["hej", "hej"]  # refused once (613), then sent once
    (row,) = rows(box)
    assert (row["state"], row["attempts"], row["platform_message_id"]) == (SENT, 2, "mid.2")


def test_read_timeout_is_not_resent_and_recorded_unknown(box):
    async def scenario():
        async with PlatformStandIn() as api:
            connector = messenger(api, RetryPolicy(timeout=0.3))
            api.then(Answer(200, delay=1.0))
            await dispatch(connector.get_output_channel(), ALICE, say("a", "b"), "m_1", outbox=box)
            await drain(Worker(connector, outbox=box, poll_seconds=0.01))
            await asyncio.sleep(0.8)  # let the stand-in finish its slow answer
            return api

    api = asyncio.run(scenario())
    # "a" reached the platform exactly once; "b" followed (the survey goes on)
    assert texts(api) == ["a", "b"]
    assert [r["state"] for r in rows(box)] == [UNKNOWN, SENT]
    assert "Timeout" in rows(box)[0]["last_error"]


def test_a_permanent_failure_fails_the_rest_of_the_turn(box):
    async def scenario():
        async with PlatformStandIn() as api:
            connector = messenger(api)
            api.then(Answer(400, graph_error(190)))
            await dispatch(connector.get_output_channel(), ALICE, say("a", "b"), "m_1", outbox=box)
            await drain(Worker(connector, outbox=box, poll_seconds=0.01))
            return api

    api = asyncio.run(scenario())
    assert texts(api) == ["a"]
    assert [(r["state"], r["last_error"][:8]) for r in rows(box)] == [
        (FAILED, "HTTP 400"),
        (FAILED, "an earli"),
    ]


def test_twilio_replies_from_the_number_the_customer_wrote_to(box):
    async def scenario():
        async with PlatformStandIn() as api:
            connector = api.track(
                TwilioInput(
                    account_sid="AC1",
                    auth_token="tok",
                    twilio_number="+15005550006",
                    api_url=api.url,
                )
            )
            output = connector.output_for("whatsapp:+15005550007")
            api.then(Answer(503, {}, {"Retry-After": "0"}))
            await dispatch(output, "whatsapp:+48600100200", say("hej"), "SM1", outbox=box)
            await drain(Worker(connector, outbox=box, poll_seconds=0.01))
            return api

    # Twilio 503 is retried by the worker (from a rebuilt output channel)
    api = asyncio.run(scenario())
    forms = [r.form() for r in api.received]
    assert [(f["From"], f["To"], f["Body"]) for f in forms] == [
        ("whatsapp:+15005550007", "whatsapp:+48600100200", "hej")
    ] * 2
    (row,) = rows(box)
    assert row["state"] == SENT and json.loads(row["route"]) == {"from": "whatsapp:+15005550007"}


def test_two_workers_on_two_engines_never_send_a_row_twice(db_url):
    boxes = [Outbox(db_url), Outbox(db_url)]
    people = [f"messenger:{2000 + i}" for i in range(4)]

    async def scenario():
        async with PlatformStandIn() as api:
            connector = messenger(api)
            output = connector.get_output_channel()
            for turn in range(3):
                for person in people:
                    words = [f"{person}/{turn}/{i}" for i in range(3)]
                    await asyncio.to_thread(
                        boxes[0].add,
                        outbox_module.turn_rows(output, person, say(*words), f"{person}-{turn}"),
                    )
            # some answers slow, a few throttled: claims overlap in time
            rng = random.Random(8)
            api.then(
                *(
                    Answer(400, graph_error(613), {"Retry-After": "0"})
                    if rng.random() < 0.15
                    else Answer(200, delay=rng.choice((0, 0.01, 0.03)))
                    for _ in range(60)
                )
            )
            workers = [Worker(connector, outbox=b, poll_seconds=0.01) for b in boxes]
            for _ in range(100):
                tried = await asyncio.gather(*(w.run_once() for w in workers))
                if not any(tried):
                    break
            return api

    try:
        api = asyncio.run(scenario())
        stored = rows(boxes[0])
    finally:
        for b in boxes:
            b.dispose()
    assert all(r["state"] == SENT for r in stored) and len(stored) == 36
    for person in people:
        psid = person.split(":")[1]
        accepted = [
            r.json()["message"]["text"] for r in api.received if r.json()["recipient"]["id"] == psid
        ]
        expected = [f"{person}/{t}/{i}" for t in range(3) for i in range(3)]
        # each part accepted once, in order (a throttled try repeats only itself)
        deduped = [w for k, w in enumerate(accepted) if k == 0 or accepted[k - 1] != w]
        assert deduped == expected
    posts = len(api.received)
    assert posts == len(stored) + sum(r["attempts"] - 1 for r in stored)


def test_claims_are_exclusive(db_url):
    one, two = Outbox(db_url), Outbox(db_url)
    try:
        one.add([{"conversation_id": ALICE, "channel": "facebook", "turn_key": "k", "seq": 0,
                  "payload": {"text": "x"}}])  # fmt: skip
        (part,) = one.due(["facebook"])
        assert one.claim(part) is not None and two.claim(part) is None
    finally:
        one.dispose()
        two.dispose()


def test_old_rows_give_up_and_a_dead_sender_leaves_unknown(db_url):
    clock = [1_000_000.0]
    box = Outbox(db_url, max_age_hours=1, send_timeout=10, clock=lambda: clock[0])
    try:
        part = {"channel": "facebook", "payload": {"text": "x"}, "seq": 0}
        box.add([{**part, "conversation_id": ALICE, "turn_key": "old"}])
        box.add([{**part, "conversation_id": BOB, "turn_key": "claimed"}])
        claimed = [p for p in box.due(["facebook"]) if p.turn_key == "claimed"][0]
        with box.engine.begin() as conn:  # the first row cannot go yet
            conn.execute(box.table.update().where(box.table.c.turn_key == "old")
                         .values(state=RETRY, next_attempt_at=clock[0] + 9999))  # fmt: skip
        assert box.claim(claimed) is not None
        assert box.expire() == (0, 0)
        clock[0] += 3601
        assert box.expire() == (1, 1)
        assert {r["turn_key"]: r["state"] for r in rows(box)} == {"old": FAILED, "claimed": UNKNOWN}
    finally:
        box.dispose()


def test_an_unwritable_outbox_sends_directly(tmp_path, caplog):
    box = Outbox(f"sqlite:///{tmp_path}/missing-dir/x.db")

    async def scenario():
        async with PlatformStandIn() as api:
            output = messenger(api).get_output_channel()
            await dispatch(output, ALICE, say("a", "b"), "m_1", outbox=box)
            return api

    api = asyncio.run(scenario())
    assert texts(api) == ["a", "b"]
    assert "sending them directly" in caplog.text


def test_attach_starts_and_stops_a_worker_per_configured_connector(db_url, monkeypatch):
    monkeypatch.setenv("NPS_DB_URL", db_url)

    class Hook:
        def __init__(self):
            self.listeners = {}

        def listener(self, event):
            def register(fn):
                self.listeners[event] = fn
                return fn

            return register

    async def scenario():
        async with PlatformStandIn() as api:
            connector = messenger(api)
            box = outbox_module.default_outbox()
            api.then(Answer(503, {}, {"Retry-After": "0"}))
            await dispatch(connector.get_output_channel(), ALICE, say("hej"), "m_1")
            hook = Hook()
            outbox_module.attach(connector, hook)
            await hook.listeners["after_server_start"](None, None)
            for _ in range(100):
                if len(api.received) == 2:
                    break
                await asyncio.sleep(0.05)
            await hook.listeners["before_server_stop"](None, None)
            return api, rows(box)

    api, stored = asyncio.run(scenario())
    assert texts(api) == ["hej", "hej"] and stored[0]["state"] == SENT
    unconfigured = Hook()
    outbox_module.attach(MessengerInput(), unconfigured)
    assert unconfigured.listeners == {}


# ------------------------------------------------------------- WhatsApp statuses


def status_webhook(*statuses: dict) -> dict:
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "106"}}
    value["statuses"] = list(statuses)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }


def failed(wamid: str, code: int, to: str = "48600100200") -> dict:
    return {
        "id": wamid,
        "status": "failed",
        "recipient_id": to,
        "errors": [{"code": code, "title": "Re-engagement message"}],
    }


def test_whatsapp_failed_status_is_recorded_against_the_conversation(box, caplog):
    conversation = "whatsapp:+48600100200"

    async def scenario():
        async with PlatformStandIn() as api:
            connector = api.track(
                WhatsAppInput(secret="s", access_token="t", phone_number_id="106", api_url=api.url)
            )
            await dispatch(
                connector.get_output_channel(), conversation, say("hej"), "wamid.in1", outbox=box
            )
            webhook = status_webhook(
                {"id": "wamid.1", "status": "delivered", "recipient_id": "48600100200"},
                failed("wamid.1", 131047),
                failed("wamid.unknown", 131026, to="48600100999"),
            )
            await record_failures(failed_statuses(webhook, "106"), outbox=box)
            await record_failures(failed_statuses(webhook, "106"), outbox=box)  # redelivered

    asyncio.run(scenario())
    ours = rows(box, conversation)
    assert [(r["state"], r["platform_message_id"]) for r in ours] == [(FAILED, "wamid.1")]
    assert "131047" in ours[0]["last_error"]
    (own,) = rows(box, "whatsapp:+48600100999")  # not one of ours: a row of its own, once
    assert own["state"] == FAILED and "131026" in own["last_error"]
    assert "600100200" not in caplog.text and "600100999" not in caplog.text
    assert failed_statuses(status_webhook(failed("w", 1)), "other-number") == []


# ------------------------------------------------------------- erasure, retention


def test_erasure_and_retention_remove_outbox_rows(box, db_url):
    clock = [1_000_000.0]
    box.clock = lambda: clock[0]
    part = {"channel": "whatsapp", "payload": {"text": "x"}, "seq": 0}
    box.add([{**part, "conversation_id": "whatsapp:+48600100200", "turn_key": "a"}])
    box.add([{**part, "conversation_id": "whatsapp:+48600100999", "turn_key": "b"}])
    clock[0] += 10 * retention.DAY
    box.add([{**part, "conversation_id": "whatsapp:+48600100999", "turn_key": "c"}])

    report = erasure.erase_person(db_url, "+48 600 100 200")
    assert report.removed[f"tracker store: {TABLE}"] == 1
    assert [r["turn_key"] for r in rows(box)] == ["b", "c"]

    count, report = retention.apply_retention(db_url, 5, now=clock[0])
    assert report.removed[f"tracker store: {TABLE}"] == 1
    assert [r["turn_key"] for r in rows(box)] == ["c"]


def test_a_sending_row_is_not_counted_as_settled(box):
    box.add([{"conversation_id": ALICE, "channel": "facebook", "turn_key": "k", "seq": s,
              "payload": {"text": str(s)}} for s in (0, 1)])  # fmt: skip
    first, second = box.due(["facebook"])
    assert box.claim(first) is not None
    assert rows(box)[0]["state"] == SENDING
    assert box.claim(second) is None  # part 2 never before part 1 is settled


def test_the_worker_leaves_a_turn_alone_while_its_dispatch_sends_it(box):
    """Part 2 must not overtake part 1: rows a process is sending itself are
    not due for any retry worker (the worker would answer part 2 first)."""

    async def scenario():
        async with PlatformStandIn() as api:
            connector = messenger(api)
            api.then(Answer(200, None, {}, delay=0.5))  # part 1 in flight for a while
            sending = asyncio.create_task(
                dispatch(
                    connector.get_output_channel(), ALICE, say("jeden", "dwa"), "m_1", outbox=box
                )
            )
            while not rows(box):
                await asyncio.sleep(0.01)
            # Part 2 is not due for a worker, though part 1 may be sent any
            # moment now (after which a worker could claim part 2 first).
            due_meanwhile = await asyncio.to_thread(box.due, ["facebook"])
            await sending
            return api, due_meanwhile

    api, due_meanwhile = asyncio.run(scenario())
    assert due_meanwhile == []
    assert texts(api) == ["jeden", "dwa"]
    assert [r["state"] for r in rows(box)] == [SENT, SENT]
