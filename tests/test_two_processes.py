"""Two Rasa processes, one PostgreSQL tracker store and one Redis lock store (issue 8).

Six whole surveys run at the same time; each conversation's messages go
alternately to one process and the other, some one after another (the
customer waits for the answer), some in bursts (several in flight at once,
on both processes). Afterwards the events table must show, per conversation:
- every message stored exactly once;
- the messages sent after the previous answer in the order sent, and each
  burst after what was sent before it (within a burst any order is right);
- turns that never overlap: each user message's turn ends (action_listen)
  before the next user message is stored;
- one session, and the survey's slots as the script implies;
- in Redis, one order number per turn and no ticket left over.
Without a shared lock, two turns of one conversation run at once and Rasa's
SQL store drops or interleaves their events (audit F5); a second greeting
burst starts a second session.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from storage.lock_store import lock_keys
from tests.bot_process import DEFAULT_MODEL, BotProcess
from tests.databases import fresh_database, redis_or_skip

pytestmark = [
    pytest.mark.rasa,
    pytest.mark.skipif(
        not DEFAULT_MODEL.exists(), reason="no trained model: run `make train` (make test does)"
    ),
]

# A database of its own on the machine's Redis; keys are per conversation
# (hashed ids of this test's fresh senders) and removed afterwards.
REDIS_URL = "redis://127.0.0.1:6379/14"
BOT_SETTINGS = {
    "NPS_MAX_WHYS": "5",
    "NPS_MAX_CLARIFICATIONS": "2",
    "NPS_RESURVEY_DAYS": "30",
    "NPS_REVIEW_URL": "",
    "NPS_LOCK_STORE_URL": REDIS_URL,
}
REPLY_TIMEOUT = 120


@dataclass
class Plan:
    """One customer's survey: steps sent in order; a step is one message
    (sent after the previous answer) or a burst (a tuple, sent at once)."""

    kind: str
    steps: list
    sender: str = field(default_factory=lambda: "")

    def messages(self) -> list[str]:
        return [m for step in self.steps for m in (step if isinstance(step, tuple) else [step])]


# Thanks after the survey, answered by a rule (a message that reaches
# action_nps_fallback after the survey currently repeats it until Rasa's
# prediction limit, with no action_listen: a dialogue bug reported apart).
AFTER = ("dziękuję", "miłego dnia", "dzięki")


def plans() -> list[Plan]:
    made = []
    for _ in range(2):
        made += [
            # the reason and what they value most typed quickly, at once
            Plan("promoter", ["cześć", "10", ("bardzo miła obsługa w sklepie", "szybka dostawa")]),
            # two greetings at once open the conversation: one session only
            Plan(
                "passive",
                [
                    ("cześć", "dzień dobry"),
                    "8",
                    "miła obsługa, ale ceny za wysokie",
                    "u konkurencji jest taniej",
                    "to wszystko",
                    "niższe ceny",
                    AFTER,
                ],
            ),
            Plan(
                "detractor",
                ["dzień dobry", "2, nie wiem gdzie jest moja paczka", "tak, pomogło", "7", "nie"]
                + [AFTER],
            ),
        ]
    for number, plan in enumerate(made):
        plan.sender = f"two-{plan.kind}-{number}-{uuid.uuid4().hex[:8]}"
    return made


def _redis_or_skip():
    return redis_or_skip(REDIS_URL)


def post(bot: BotProcess, sender: str, text: str) -> int:
    """One REST message; the HTTP status (200 once the turn is stored)."""
    request = urllib.request.Request(
        f"{bot.url}/webhooks/rest/webhook",
        data=json.dumps({"sender": sender, "message": text}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=REPLY_TIMEOUT) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def run_survey(plan: Plan, bots: list[BotProcess], statuses: list) -> None:
    turn = 0
    for step in plan.steps:
        burst = step if isinstance(step, tuple) else (step,)
        start = threading.Barrier(len(burst))
        threads = []
        for text in burst:
            bot = bots[turn % 2]  # alternate: consecutive messages on different processes
            turn += 1

            def send(bot=bot, text=text, start=start):
                start.wait()
                statuses.append((plan.sender, text, post(bot, plan.sender, text)))

            threads.append(threading.Thread(target=send))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def stored_events(db_url: str, conversation: str) -> list[dict]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"),
                {"s": conversation},
            ).fetchall()
    finally:
        engine.dispose()
    return [json.loads(data) for (data,) in rows]


def last_slots(events: list[dict]) -> dict:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    red = _redis_or_skip()
    with fresh_database("postgresql", tmp_path_factory.mktemp("db")) as url:
        logs = tmp_path_factory.mktemp("logs")
        first = BotProcess(db_url=url, env=BOT_SETTINGS, log_dir=logs / "one")
        second = BotProcess(
            db_url=url,
            env={
                **BOT_SETTINGS,
                "NPS_ACTIONS_URL": f"http://127.0.0.1:{first.actions_port}/webhook",
            },
            log_dir=logs / "two",
            with_actions=False,  # one action server for both
        )
        for bot in (first, second):
            bot.log_dir.mkdir(parents=True, exist_ok=True)
        failures = []

        def start(bot):
            try:
                bot.start()
            except Exception as error:  # noqa: BLE001 - re-raised below
                failures.append(error)

        starters = [threading.Thread(target=start, args=(bot,)) for bot in (first, second)]
        for thread in starters:
            thread.start()
        for thread in starters:
            thread.join()
        try:
            if failures:
                raise failures[0]
            yield url, [first, second], red
        finally:
            first.stop()
            second.stop()
            red.close()


def test_two_processes_store_every_message_once_in_order(cluster):
    db_url, bots, red = cluster
    surveys = plans()
    statuses: list = []
    threads = [threading.Thread(target=run_survey, args=(p, bots, statuses)) for p in surveys]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        failed = [(s, t, code) for s, t, code in statuses if code != 200]
        assert not failed, f"turns failed: {failed}\n{bots[0].log()}\n{bots[1].log()}"

        for plan in surveys:
            conversation = f"rest:{plan.sender}"
            events = stored_events(db_url, conversation)
            check_stored(plan, events)
            check_slots(plan, events)
            # every turn went through the Redis lock, and none is left queued
            queue, expiries, counter = lock_keys(conversation)
            assert int(red.get(counter) or 0) >= len(plan.messages())
            assert not red.exists(queue) and not red.exists(expiries)
    finally:
        for plan in surveys:
            red.delete(*lock_keys(f"rest:{plan.sender}"))


def outline(events: list[dict]) -> str:
    """The conversation's events in short, for a failure message (these are
    the test's own scripted texts, no customer's)."""
    return " | ".join(
        f"{e['event']}:{e.get('name') or e.get('text') or ''}"
        for e in events
        if e["event"] in ("user", "action", "session_started")
    )


def check_stored(plan: Plan, events: list[dict]) -> None:
    who = f"{plan.kind} {plan.sender}: {outline(events)}"
    texts = [e["text"] for e in events if e["event"] == "user"]
    assert Counter(texts) == Counter(plan.messages()), who  # each exactly once
    # order: step by step; within a burst any order
    position = 0
    for step in plan.steps:
        burst = step if isinstance(step, tuple) else (step,)
        assert sorted(texts[position : position + len(burst)]) == sorted(burst), who
        position += len(burst)
    assert [e["event"] for e in events].count("session_started") == 1, who
    # turns never overlap: after each user message, its turn ends with
    # action_listen before the next user message is stored
    listening = True
    for event in events:
        if event["event"] == "user":
            assert listening, f"{who}: a message stored while another turn ran"
            listening = False
        elif event["event"] == "action" and event.get("name") == "action_listen":
            listening = True
    assert listening, f"{who}: the last turn did not end"


def check_slots(plan: Plan, events: list[dict]) -> None:
    slots = last_slots(events)
    assert slots.get("survey_outcome") == "finished", plan.kind
    if plan.kind == "promoter":
        assert (slots["nps_score"], slots["nps_group"]) == (10, "promoter")
        texts = [e["text"] for e in events if e["event"] == "user"]
        # the burst's first stored message is the reason, the other what they value
        assert [slots["reason"], slots["valued_most"]] == texts[2:4]
    elif plan.kind == "passive":
        assert (slots["nps_score"], slots["nps_group"]) == (8, "passive")
        assert "price:neg" in slots["drivers"]
        assert slots["why_chain"] == ["u konkurencji jest taniej"]
        assert slots["improvement"] == "niższe ceny"
    else:
        assert (slots["nps_score"], slots["nps_group"]) == (2, "detractor")
        assert slots["known_issue"] == "parcel_tracking"
        assert slots["issue_resolved"] is True
        assert slots["nps_score_after"] == 7
        assert slots["contact_consent"] is False
