"""Alerts about cases (cases/alerts.py): the plan, and deliveries to a local
SMTP server (aiosmtpd) and a local HTTP receiver that checks the webhook's
signature.

Times are worked out by hand in the comments. The default business hours
(data/business_hours.yml) are Monday to Friday 08:00-18:00 Europe/Warsaw
(CET = UTC+1 in winter); T0 is Monday 30 Nov 2026 09:00 CET = 08:00 UTC.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import hashlib
import hmac
import json
import socket
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from analytics import schema
from analytics.settings import load_settings
from cases import alerts, sla, store
from nps import settings as bot_settings

DATA_DIR = bot_settings.REPO_ROOT / "data"
SECRET = "test-webhook-secret-0123456789"  # pragma: allowlist secret (a test value)
SENDER = "whatsapp:+48600100200"
PHONE_IN_WORDS = "600 100 200"
EMAIL_IN_WORDS = "jan.kowalski@example.com"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


T0 = utc(2026, 11, 30, 8)  # Monday 09:00 CET
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)

POLICY = alerts.Policy(
    dashboard_url="http://dash.example:8501",
    repeat_minutes=60,
    digest_hour=8,
    calendars=sla.load(DATA_DIR),
)


def case(case_id: int = 1, **changes) -> dict:
    """A high-priority case opened at T0: first contact due in 4 business
    hours (13:00 CET = 12:00 UTC), resolution in 16 (Tuesday 17:00 CET)."""
    base = {
        "id": case_id,
        "sender": SENDER,  # present in the case, never in an alert
        "state": "new",
        "priority": "high",
        "team": "customer_support",
        "store": "store_b",
        "channel": "whatsapp",
        "score": 2,
        "reason": f"Kurier zgubił paczkę, dzwońcie {PHONE_IN_WORDS}",
        "why_chain": ["bo nikt nie oddzwonił", f"pisałem na {EMAIL_IN_WORDS}"],
        "drivers": ["delivery:neg", "customer_support:neg"],
        "consent": True,
        "opened_at": T0,
        "first_contact_due": T0 + 4 * HOUR,
        "resolve_due": utc(2026, 12, 1, 16),
        "first_contact_at": None,
        "paused_seconds": 0.0,
        "last_alert_at": None,
        "last_alert_kind": None,
        "acknowledged_at": None,
    }
    base.update(changes)
    return base


# A normal case opened Monday 18:30 CET (after hours), 8 business hours to
# first contact: Tuesday 08:00 CET + 8 h = 16:00 CET = 15:00 UTC. Tuesday's
# digest is at 08:00 CET = 07:00 UTC; at risk at 75% = 6 h = 14:00 CET.
EVENING = utc(2026, 11, 30, 17, 30)
DIGEST_AT = utc(2026, 12, 1, 7)


def normal(case_id: int, team: str = "customer_support", **changes) -> dict:
    values = {
        "priority": "normal",
        "team": team,
        "opened_at": EVENING,
        "first_contact_due": utc(2026, 12, 1, 15),
        "resolve_due": utc(2026, 12, 3, 15),
    }
    return case(case_id, **{**values, **changes})


def kinds(cases, now) -> list[tuple]:
    return [(a.kind, a.case_id) for a in alerts.plan(cases, now, POLICY)]


@pytest.mark.parametrize(
    ("label", "the_case", "now", "expected"),
    [
        ("new high: at once", case(), T0 + MIN, [("new", 1)]),
        ("new normal: waits for the digest", normal(2), EVENING + HOUR, []),
        ("digest: not before 08:00 local", normal(2), DIGEST_AT - MIN, []),
        ("digest: at 08:00 local", normal(2), DIGEST_AT, [("digest", None)]),
        # First contact due 12:00 UTC; the 'new' alert was acknowledged.
        (
            "breach, although acknowledged before",
            case(last_alert_at=T0 + MIN, last_alert_kind="new", acknowledged_at=T0 + 5 * MIN),
            T0 + 4 * HOUR + MIN,
            [("breach", 1)],
        ),
        (
            "breach sent once",
            case(last_alert_at=T0 + 4 * HOUR + MIN, last_alert_kind="breach"),
            T0 + 4 * HOUR + 30 * MIN,
            [],
        ),
        (
            "breach repeated after 60 min",
            case(last_alert_at=T0 + 4 * HOUR + MIN, last_alert_kind="breach"),
            T0 + 5 * HOUR + MIN,
            [("repeat", 1)],
        ),
        (
            "repeat: not before 60 min",
            case(last_alert_at=T0 + MIN, last_alert_kind="new"),
            T0 + 60 * MIN,
            [],
        ),
        (
            "repeat after 60 min, unacknowledged",
            case(last_alert_at=T0 + MIN, last_alert_kind="new"),
            T0 + 61 * MIN,
            [("repeat", 1)],
        ),
        (
            "no repeat once acknowledged",
            case(last_alert_at=T0 + MIN, last_alert_kind="new", acknowledged_at=T0 + 5 * MIN),
            T0 + 2 * HOUR,
            [],
        ),
        # 75% of the 4 business hours to first contact: 3 h after T0.
        (
            "at risk: not yet",
            case(last_alert_at=T0 + MIN, last_alert_kind="new", acknowledged_at=T0 + 5 * MIN),
            T0 + 3 * HOUR - MIN,
            [],
        ),
        (
            "at risk at 75%",
            case(last_alert_at=T0 + MIN, last_alert_kind="new", acknowledged_at=T0 + 5 * MIN),
            T0 + 3 * HOUR,
            [("at_risk", 1)],
        ),
        # The normal case is at risk from Tuesday 14:00 CET (13:00 UTC), due 16:00 CET.
        (
            "at risk sent once, not repeated",
            normal(2, last_alert_at=utc(2026, 12, 1, 13), last_alert_kind="at_risk"),
            utc(2026, 12, 1, 14, 5),
            [],
        ),
        ("on hold: the clock is paused, no breach", case(state="on_hold"), T0 + 5 * HOUR, []),
        ("resolved: nothing", case(state="resolved"), T0 + 5 * HOUR, []),
        # First contact made: the due time is the resolution's, Tuesday 16:00 UTC.
        (
            "first contact made: the resolution's due time counts",
            case(
                state="contacted",
                first_contact_at=T0 + HOUR,
                last_alert_at=T0 + MIN,
                last_alert_kind="new",
                acknowledged_at=T0 + 5 * MIN,
            ),
            T0 + 5 * HOUR,
            [],
        ),
        (
            "normal case at risk before its digest went: at risk",
            normal(2),
            utc(2026, 12, 1, 13),  # Tuesday 14:00 CET, 6 of 8 business hours used
            [("at_risk", 2)],
        ),
        # Reopened two hours in by a low win-back score: the team's earlier
        # alert and acknowledgement were about the case before it was closed.
        (
            "reopened: at once, whatever went before",
            case(
                state="reopened",
                last_alert_at=T0 + MIN,
                last_alert_kind="new",
                acknowledged_at=T0 + 5 * MIN,
                reopened_at=T0 + 2 * HOUR,
            ),
            T0 + 2 * HOUR + MIN,
            [("reopened", 1)],
        ),
        (
            "reopened: sent once",
            case(
                state="reopened",
                last_alert_at=T0 + 2 * HOUR + MIN,
                last_alert_kind="reopened",
                reopened_at=T0 + 2 * HOUR,
            ),
            T0 + 2 * HOUR + 30 * MIN,
            [],
        ),
        (
            "reopened: repeated until acknowledged",
            case(
                state="reopened",
                last_alert_at=T0 + 2 * HOUR + MIN,
                last_alert_kind="reopened",
                reopened_at=T0 + 2 * HOUR,
            ),
            T0 + 3 * HOUR + 2 * MIN,
            [("repeat", 1)],
        ),
    ],
)
def test_plan(label, the_case, now, expected):
    assert kinds([the_case], now) == expected, label


def test_an_alert_holds_what_the_team_needs_and_no_personal_data():
    (alert,) = alerts.plan([case(7)], T0 + MIN, POLICY)
    assert alert.link == "http://dash.example:8501/case?id=7"
    assert alert.score == 2 and alert.consent is True and alert.store == "store_b"
    assert alert.drivers == ("delivery:neg", "customer_support:neg")
    assert alert.due == T0 + 4 * HOUR
    assert alert.words == (
        "Kurier zgubił paczkę, dzwońcie <telefon>",
        "bo nikt nie oddzwonił",
        "pisałem na <e-mail>",
    )
    dumped = json.dumps(alert.as_json(), ensure_ascii=False)
    for personal in (SENDER, "48600100200", PHONE_IN_WORDS, EMAIL_IN_WORDS):
        assert personal not in dumped


def test_a_digest_groups_the_days_normal_cases_by_team():
    cases = [
        normal(2),
        normal(3, team="stores"),
        normal(4),
        case(5, opened_at=DIGEST_AT - 2 * HOUR, first_contact_due=utc(2026, 12, 1, 12)),
        # Opened after Tuesday's digest: it waits for Wednesday's.
        normal(6, opened_at=DIGEST_AT + MIN),
        # Already announced (at risk): not again in a digest.
        normal(8, last_alert_at=EVENING + MIN, last_alert_kind="at_risk"),
    ]
    planned = alerts.plan(cases, DIGEST_AT + 2 * MIN, POLICY)
    assert [(a.kind, a.case_id, a.team) for a in planned] == [
        ("new", 5, "customer_support"),
        ("digest", None, "customer_support"),
        ("digest", None, "stores"),
    ]
    assert [c.case_id for c in planned[1].cases] == [2, 4]
    assert [c.case_id for c in planned[2].cases] == [3]
    assert "Dzienne zestawienie" in alerts.text(planned[1])
    assert "/case?id=2" in alerts.text(planned[1]) and "/case?id=4" in alerts.text(planned[1])


# --- local receivers -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """An HTTP receiver: /hook checks the signature (403 when wrong); the
    statuses queued in `fail_with` are answered first."""

    def __init__(self):
        self.requests: list[dict] = []
        self.fail_with: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 200
                if receiver.fail_with:
                    status = receiver.fail_with.pop(0)
                elif self.path == "/hook" and not alerts.verify(
                    body, self.headers.get(alerts.SIGNATURE_HEADER), SECRET
                ):
                    status = 403
                receiver.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                        "status": status,
                    }
                )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


@pytest.fixture
def engine(tmp_path):
    e = sa.create_engine(f"sqlite:///{tmp_path / 'cases.db'}")
    yield e
    e.dispose()


def settings(**values):
    return dataclasses.replace(
        load_settings({}), dashboard_url="http://dash.example:8501", **values
    )


def log(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            (r["case_id"], r["kind"], r["channel"], r["attempt"], r["outcome"], r["status_code"])
            for r in alerts.deliveries(conn)
        ]


def new_alert(case_id: int = 1) -> alerts.Alert:
    return alerts.plan([case(case_id)], T0 + MIN, POLICY)[0]


def test_the_generic_webhook_is_signed_and_carries_a_timestamp_and_a_delivery_id(receiver, engine):
    config = settings(alert_webhook_url=f"{receiver.url}/hook", alert_webhook_secret=SECRET)
    (outcome,) = alerts.deliver([new_alert()], config, engine, T0 + MIN, sleep=lambda s: None)
    assert outcome.sent
    (request,) = receiver.requests
    assert request["status"] == 200
    body = request["body"]
    # The receiver's own check, and ours: HMAC-SHA256 of the raw body.
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert request["headers"][alerts.SIGNATURE_HEADER] == expected
    payload = json.loads(body)
    assert payload["timestamp"] == int((T0 + MIN).timestamp())
    assert payload["delivery_id"] == request["headers"][alerts.DELIVERY_HEADER]
    assert payload["alert"]["case_id"] == 1
    assert payload["alert"]["link"] == "http://dash.example:8501/case?id=1"
    assert SENDER not in body.decode() and PHONE_IN_WORDS not in body.decode()
    assert log(engine) == [(1, "new", "webhook", 1, "sent", 200)]


def test_a_wrong_signature_is_refused_and_not_retried(receiver, engine):
    config = settings(alert_webhook_url=f"{receiver.url}/hook", alert_webhook_secret="wrong")
    (outcome,) = alerts.deliver([new_alert()], config, engine, T0 + MIN, sleep=lambda s: None)
    assert not outcome.sent
    assert [r["status"] for r in receiver.requests] == [403]
    assert log(engine) == [(1, "new", "webhook", 1, "failed", 403)]
    with engine.connect() as conn:
        assert alerts.last_alerts(conn) == {}


def test_no_secret_no_unsigned_webhook(receiver, engine):
    config = settings(alert_webhook_url=f"{receiver.url}/hook", alert_webhook_secret="")
    (outcome,) = alerts.deliver([new_alert()], config, engine, T0 + MIN, sleep=lambda s: None)
    assert not outcome.sent and receiver.requests == []
    assert log(engine) == [(1, "new", "webhook", 1, "failed", None)]


def test_a_500_is_retried_with_backoff_and_logged(receiver, engine):
    receiver.fail_with = [500, 503]
    waits = []
    config = settings(alert_webhook_url=f"{receiver.url}/hook", alert_webhook_secret=SECRET)
    (outcome,) = alerts.deliver(
        [new_alert()], config, engine, T0 + MIN, backoff_seconds=2.0, sleep=waits.append
    )
    assert outcome.sent and outcome.attempts == 3
    # Waits of 2 s and then 4 s (backoff doubling) between the three tries.
    assert waits == [2.0, 4.0]
    assert log(engine) == [
        (1, "new", "webhook", 1, "retry", 500),
        (1, "new", "webhook", 2, "retry", 503),
        (1, "new", "webhook", 3, "sent", 200),
    ]
    # Each try had its own delivery id; a receiver drops a replayed one.
    ids = [r["headers"][alerts.DELIVERY_HEADER] for r in receiver.requests]
    assert len(set(ids)) == 3


def test_failing_every_try_is_logged_as_failed(receiver, engine):
    receiver.fail_with = [500, 500, 500]
    config = settings(alert_webhook_url=f"{receiver.url}/hook", alert_webhook_secret=SECRET)
    (outcome,) = alerts.deliver([new_alert()], config, engine, T0 + MIN, sleep=lambda s: None)
    assert not outcome.sent
    assert [row[4] for row in log(engine)] == ["retry", "retry", "failed"]
    with engine.connect() as conn:
        # Not sent: the next run plans it again.
        assert alerts.last_alerts(conn) == {}


def test_an_unreachable_receiver_is_retried(engine):
    config = settings(
        alert_webhook_url=f"http://127.0.0.1:{free_port()}/hook", alert_webhook_secret=SECRET
    )
    (outcome,) = alerts.deliver([new_alert()], config, engine, T0 + MIN, sleep=lambda s: None)
    assert not outcome.sent and outcome.attempts == 3
    rows = log(engine)
    assert [r[4] for r in rows] == ["retry", "retry", "failed"]
    assert all(r[5] is None for r in rows)


def test_slack_and_teams_bodies(receiver, engine):
    config = settings(
        alert_slack_url=f"{receiver.url}/slack", alert_teams_url=f"{receiver.url}/teams"
    )
    outcomes = alerts.deliver([new_alert()], config, engine, T0 + MIN, sleep=lambda s: None)
    assert [(o.channel, o.sent) for o in outcomes] == [("slack", True), ("teams", True)]
    bodies = {r["path"]: json.loads(r["body"]) for r in receiver.requests}
    slack = bodies["/slack"]
    assert set(slack) == {"text", "blocks"}
    assert slack["text"].startswith("Nowa pilna sprawa: sprawa #1")
    assert [b["type"] for b in slack["blocks"]] == ["header", "section", "section", "actions"]
    assert slack["blocks"][3]["elements"][0]["url"] == "http://dash.example:8501/case?id=1"
    assert "> Kurier zgubił paczkę, dzwońcie <telefon>" in slack["blocks"][2]["text"]["text"]
    teams = bodies["/teams"]
    assert teams["@type"] == "MessageCard"
    assert teams["@context"] == "https://schema.org/extensions"
    facts = {f["name"]: f["value"] for f in teams["sections"][0]["facts"]}
    assert facts["Ocena"] == "2/10" and facts["Zgoda na kontakt"] == "tak"
    assert facts["Termin"] == "2026-11-30 12:00 UTC"
    assert teams["potentialAction"][0]["targets"][0]["uri"] == "http://dash.example:8501/case?id=1"
    for body in bodies.values():
        dumped = json.dumps(body, ensure_ascii=False)
        assert SENDER not in dumped and PHONE_IN_WORDS not in dumped
        assert EMAIL_IN_WORDS not in dumped


def test_an_email_reaches_the_smtp_server(smtp, engine):
    controller, mailbox = smtp
    config = settings(
        smtp_host="127.0.0.1",
        smtp_port=controller.port,
        alert_email_from="nps@example.com",
        alert_email_to=("cx-team@example.com", "lead@example.com"),
    )
    (outcome,) = alerts.deliver([new_alert()], config, engine, T0 + MIN, sleep=lambda s: None)
    assert outcome.sent
    (envelope,) = mailbox.messages
    assert envelope.mail_from == "nps@example.com"
    assert envelope.rcpt_tos == ["cx-team@example.com", "lead@example.com"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == "Nowa pilna sprawa: sprawa #1"
    body = message.get_content()
    assert "Ocena: 2/10" in body and "Sklep: store_b" in body
    assert "- Kurier zgubił paczkę, dzwońcie <telefon>" in body
    assert "Sprawa: http://dash.example:8501/case?id=1" in body
    assert PHONE_IN_WORDS not in body and SENDER not in body and EMAIL_IN_WORDS not in body
    assert log(engine) == [(1, "new", "email", 1, "sent", 250)]


def test_a_digest_is_logged_for_each_of_its_cases(receiver, engine):
    config = settings(alert_webhook_url=f"{receiver.url}/hook", alert_webhook_secret=SECRET)
    planned = alerts.plan([normal(2), normal(4)], DIGEST_AT, POLICY)
    alerts.deliver(planned, config, engine, DIGEST_AT, sleep=lambda s: None)
    payload = json.loads(receiver.requests[0]["body"])
    assert payload["alert"]["kind"] == "digest"
    assert [c["case_id"] for c in payload["alert"]["cases"]] == [2, 4]
    assert log(engine) == [
        (2, "digest", "webhook", 1, "sent", 200),
        (4, "digest", "webhook", 1, "sent", 200),
    ]
    # Announced: not in the next day's digest again.
    with engine.connect() as conn:
        last = alerts.last_alerts(conn)
    # (Due on Friday, so that Wednesday's plan has no breach or risk to send.)
    later = [
        normal(
            i,
            last_alert_at=last[i][0],
            last_alert_kind=last[i][1],
            first_contact_due=utc(2026, 12, 4, 15),
        )
        for i in (2, 4)
    ]
    assert alerts.plan(later, DIGEST_AT + timedelta(days=1), POLICY) == []


def test_a_repeat_is_sent_until_acknowledged_and_not_after(receiver, engine):
    config = settings(alert_webhook_url=f"{receiver.url}/hook", alert_webhook_secret=SECRET)

    def round_at(now) -> list[str]:
        """One run of the alerter: the case's alert state from the tables."""
        with engine.connect() as conn:
            at, kind = alerts.last_alerts(conn).get(1, (None, None))
            acked = alerts.acknowledged_at(conn, 1)
        the_case = case(last_alert_at=at, last_alert_kind=kind, acknowledged_at=acked)
        planned = alerts.plan([the_case], now, POLICY)
        alerts.deliver(planned, config, engine, now, sleep=lambda s: None)
        return [a.kind for a in planned]

    alerts.ensure_tables(engine)
    # 09:01 CET new; 09:31 nothing (30 min); 10:02 repeat (61 min); 11:03 repeat again.
    assert round_at(T0 + MIN) == ["new"]
    assert round_at(T0 + 31 * MIN) == []
    assert round_at(T0 + 62 * MIN) == ["repeat"]
    assert round_at(T0 + 123 * MIN) == ["repeat"]
    with engine.connect() as conn:
        assert not alerts.is_acknowledged(conn, 1)
    alerts.acknowledge(engine, 1, "agent.anna", now=T0 + 130 * MIN)
    with engine.connect() as conn:
        assert alerts.is_acknowledged(conn, 1)
    # Acknowledged at 11:10 CET: no repeat at 12:04 or 12:59 CET. The case is
    # at risk from 12:00 CET (75% of 4 h), so that alert goes at 12:04, once.
    assert round_at(T0 + 184 * MIN) == ["at_risk"]
    assert round_at(T0 + 239 * MIN) == []
    # Past the first contact's due time (13:00 CET): a breach, acknowledged or not.
    assert round_at(T0 + 245 * MIN) == ["breach"]
    assert [json.loads(r["body"])["alert"]["kind"] for r in receiver.requests] == [
        "new",
        "repeat",
        "repeat",
        "at_risk",
        "breach",
    ]


def test_the_cli_says_when_there_is_no_cases_table(engine, tmp_path, capsys):
    config = settings(analytics_db_url=f"sqlite:///{tmp_path / 'none.db'}")
    assert alerts.run_once(config, engine, T0) == 0
    assert "no cases table" in capsys.readouterr().out


def _projection(path) -> str:
    """An analytics projection with case 1's survey (response 11): its
    words, why-chain, drivers and consent."""
    url = f"sqlite:///{path}"
    projection = sa.create_engine(url)
    schema.metadata.create_all(projection)
    with projection.begin() as conn:
        conn.execute(
            sa.insert(schema.responses).values(
                response_id=11,
                person="p1",
                closed=True,
                nps_score=1,
                reason=f"Paczka nie doszła, mój numer {PHONE_IN_WORDS}",
                contact_consent=True,
            )
        )
        conn.execute(
            sa.insert(schema.why_answers),
            [
                {"response_id": 11, "position": 0, "answer": "bo kurier jej nie przywiózł"},
                {"response_id": 11, "position": 1, "answer": "bo nikt nie odbiera infolinii"},
            ],
        )
        conn.execute(
            sa.insert(schema.driver_mentions),
            [
                {"response_id": 11, "position": 0, "driver": "delivery", "polarity": "neg"},
                {"response_id": 11, "position": 1, "driver": "customer_support", "polarity": "neg"},
            ],
        )
    projection.dispose()
    return url


def test_the_cli_reads_the_cases_and_the_customers_words(receiver, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    engine = store.cases_engine(url)
    case_store = store.CaseStore(engine)
    common = {"rule": "detractor_consent", "priority": "high", "team": "customer_support"}
    first = case_store.open_case(
        {
            **common,
            "sender": SENDER,
            "response_id": 11,
            "store": "store_b",
            "channel": "whatsapp",
            "opened_at": T0.timestamp(),
            "first_contact_due": (T0 + 4 * HOUR).timestamp(),
            "resolve_due": utc(2026, 12, 1, 16).timestamp(),
            "score": 1,
        }
    )
    # A closed case gets no alert.
    closed = case_store.open_case(
        {**common, "sender": "rest:b", "response_id": 12, "opened_at": T0.timestamp()}
    )
    with engine.begin() as conn:
        conn.execute(
            sa.update(store.cases).where(store.cases.c.id == closed).values(state="resolved")
        )
    config = settings(
        alert_webhook_url=f"{receiver.url}/hook",
        alert_webhook_secret=SECRET,
        analytics_db_url=_projection(tmp_path / "analytics.db"),
    )
    assert alerts.run_once(config, engine, T0 + MIN) == 1
    assert "1 alert(s), 1 of 1 deliveries sent" in capsys.readouterr().out
    body = receiver.requests[0]["body"].decode()
    alert = json.loads(body)["alert"]
    assert (alert["kind"], alert["case_id"], alert["score"]) == ("new", first, 1)
    assert alert["words"] == [
        "Paczka nie doszła, mój numer <telefon>",
        "bo kurier jej nie przywiózł",
        "bo nikt nie odbiera infolinii",
    ]
    assert alert["drivers"] == ["delivery:neg", "customer_support:neg"]
    assert alert["consent"] is True
    assert SENDER not in body and PHONE_IN_WORDS not in body
    # The next round sends nothing new: the alert is in the log.
    assert alerts.run_once(config, engine, T0 + 2 * MIN) == 0
    engine.dispose()


def test_a_reopened_case_is_alerted_again(receiver, tmp_path):
    """Alerted and acknowledged when new, resolved, then reopened by a low
    win-back score: the reopening is news, sent once and repeated until seen."""
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    engine = store.cases_engine(url)
    case_store = store.CaseStore(engine)
    case_id = case_store.open_case(
        {
            "rule": "detractor_consent",
            "priority": "high",
            "team": "customer_support",
            "sender": SENDER,
            "response_id": 11,
            "opened_at": T0.timestamp(),
            "first_contact_due": (T0 + 4 * HOUR).timestamp(),
            "resolve_due": utc(2026, 12, 3, 16).timestamp(),
            "score": 1,
        }
    )
    config = settings(alert_webhook_url=f"{receiver.url}/hook", alert_webhook_secret=SECRET)
    assert alerts.run_once(config, engine, T0 + MIN) == 1
    case_store.acknowledge(case_id, "lead", (T0 + 5 * MIN).timestamp())
    with engine.begin() as conn:
        conn.execute(
            sa.update(store.cases).where(store.cases.c.id == case_id).values(state="resolved")
        )
    reopened_at = T0 + HOUR  # before it is at risk (T0 + 3 h) or breached (T0 + 4 h)
    case_store.transition(case_id, "reopened", "system", reopened_at.timestamp())
    assert case_store.get(case_id)["acknowledged_at"] is None

    assert alerts.run_once(config, engine, reopened_at + MIN) == 1
    assert alerts.run_once(config, engine, reopened_at + 30 * MIN) == 0
    assert alerts.run_once(config, engine, reopened_at + 62 * MIN) == 1
    case_store.acknowledge(case_id, "lead", (reopened_at + 63 * MIN).timestamp())
    assert alerts.run_once(config, engine, reopened_at + 90 * MIN) == 0
    sent = [json.loads(r["body"])["alert"] for r in receiver.requests]
    assert [(a["kind"], a["case_id"]) for a in sent] == [
        ("new", case_id),
        ("reopened", case_id),
        ("repeat", case_id),
    ]
    engine.dispose()
