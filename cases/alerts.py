"""Alerts about cases: what to send now (`plan`), and sending it (`deliver`).

Policy (docs/closed-loop.md, "Alerts"):
- a new high-priority case and a breached SLA are sent at once;
- the other new cases wait for the daily digest at `alert_digest_hour`, in the
  store's local time, one message per team;
- a case at risk (75% of its business time used) is sent once;
- a case reopened (a low win-back score after it was resolved) is sent at
  once, whatever was sent about it before it was closed;
- an immediate alert (new, breach, reopened) is repeated every `alert_repeat_minutes`
  until someone acknowledges it (`acknowledge`).

Channels, each on while its address is set: e-mail over SMTP, Slack- and
Teams-compatible incoming webhooks, and the generic webhook: a JSON POST
signed in `X-NPS-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`
with NPS_ALERT_WEBHOOK_SECRET, with a `timestamp` in the body and an
`X-NPS-Delivery` id so that a receiver can drop replays. Every try is logged
in `alert_deliveries` (no personal data: no addresses, no words), with
retries and exponential backoff for network errors, 429 and 5xx.

An alert carries the score, the customer's words and why-chain (e-mail
addresses and phone numbers masked), drivers, store, channel, consent, the
due time and a link to the case: never the sender id (a phone number on
WhatsApp and SMS).

Analytics environment (SQLAlchemy 2). `python -m cases.alerts run --once`.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import smtplib
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from cases import sla, states
from nps.text_privacy import mask

NEW, BREACH, AT_RISK, DIGEST, REPEAT = "new", "breach", "at_risk", "digest", "repeat"
REOPENED = "reopened"  # the alert about a case's reopening (states.REOPENED)
KINDS = (NEW, BREACH, AT_RISK, DIGEST, REPEAT, REOPENED)
# Alerts repeated until acknowledged.
IMMEDIATE = (NEW, BREACH, REPEAT, REOPENED)
HIGH = "high"
# The case states of cases/states.py that get no alerts any more.
CLOSED_STATES = ("resolved", "unresolved")
ON_HOLD = "on_hold"
# How much of one answer an alert quotes.
MAX_WORDS_CHARS = 500

SENT, RETRY, FAILED = "sent", "retry", "failed"
CHANNELS = ("email", "slack", "teams", "webhook")

SIGNATURE_HEADER = "X-NPS-Signature-256"
DELIVERY_HEADER = "X-NPS-Delivery"

# --- tables (same database as the cases: settings.cases_db_url) ---------------------------------

metadata = sa.MetaData()

alert_deliveries = sa.Table(
    "alert_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Integer, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", sa.Float, nullable=False),  # Unix seconds (UTC)
    sa.Column("outcome", sa.String(16), nullable=False),  # sent / retry / failed
    sa.Column("status_code", sa.Integer),  # HTTP status or SMTP reply code
    sa.Column("error", sa.String(255)),  # the error's kind, never an address or words
)

alert_acks = sa.Table(
    "alert_acks",
    metadata,
    sa.Column("case_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("who", sa.String(255), nullable=False),
)


def ensure_tables(engine: Engine) -> None:
    metadata.create_all(engine, checkfirst=True)


def acknowledge(engine: Engine, case_id: int, who: str, now: datetime | None = None) -> None:
    """Someone has seen the case's alerts: stop repeating them (until the
    next breach)."""
    at = _ts(now or datetime.now(timezone.utc))
    ensure_tables(engine)
    with engine.begin() as conn:
        conn.execute(sa.delete(alert_acks).where(alert_acks.c.case_id == case_id))
        conn.execute(sa.insert(alert_acks).values(case_id=case_id, at=at, who=who))


def acknowledged_at(conn: Connection, case_id: int) -> float | None:
    """When the case's alerts were last acknowledged (Unix seconds), or None."""
    return conn.execute(
        sa.select(alert_acks.c.at).where(alert_acks.c.case_id == case_id)
    ).scalar_one_or_none()


def is_acknowledged(conn: Connection, case_id: int) -> bool:
    """Whether someone acknowledged the case's alerts (alert_acks)."""
    return acknowledged_at(conn, case_id) is not None


def last_alerts(conn: Connection) -> dict[int, tuple[float, str]]:
    """case id -> (when, kind) of its newest alert sent on at least one channel."""
    rows = conn.execute(
        sa.select(alert_deliveries.c.case_id, alert_deliveries.c.at, alert_deliveries.c.kind)
        .where(alert_deliveries.c.outcome == SENT, alert_deliveries.c.case_id.is_not(None))
        .order_by(alert_deliveries.c.at, alert_deliveries.c.id)
    )
    return {case_id: (at, kind) for case_id, at, kind in rows}


def deliveries(conn: Connection) -> list[dict]:
    rows = conn.execute(sa.select(alert_deliveries).order_by(alert_deliveries.c.id))
    return [dict(r._mapping) for r in rows]


# --- what an alert holds ---------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    case_id: int | None
    kind: str
    priority: str = ""
    team: str = ""
    store: str | None = None
    channel: str | None = None
    score: int | None = None
    # The customer's reason and why-chain answers, masked.
    words: tuple[str, ...] = ()
    drivers: tuple[str, ...] = ()
    consent: bool | None = None
    due: datetime | None = None
    link: str = ""
    # A digest: the alerts of the cases it groups (case_id is None).
    cases: tuple[Alert, ...] = ()

    def as_json(self) -> dict:
        out = asdict(self)
        out["due"] = self.due.isoformat() if self.due else None
        out["words"] = list(self.words)
        out["drivers"] = list(self.drivers)
        out["cases"] = [c.as_json() for c in self.cases]
        return out


def _dt(value) -> datetime | None:
    """A datetime (aware, UTC) from a datetime or Unix seconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes must be timezone-aware (UTC)")
        return value.astimezone(timezone.utc)
    return datetime.fromtimestamp(float(value), tz=timezone.utc)


def _ts(value: datetime) -> float:
    return _dt(value).timestamp()


def _words(case: Mapping) -> tuple[str, ...]:
    chain = case.get("why_chain") or ()
    if isinstance(chain, str):
        chain = [chain]
    texts = [case.get("reason"), *chain]
    out = []
    for text in texts:
        if text and str(text).strip():
            masked = mask(str(text).strip())
            if len(masked) > MAX_WORDS_CHARS:
                masked = masked[: MAX_WORDS_CHARS - 1] + "…"
            out.append(masked)
    return tuple(out)


def due_of(case: Mapping) -> datetime | None:
    """The case's next due time: `due` if given, else first contact's until
    it happened, then resolution's."""
    if case.get("due") is not None:
        return _dt(case["due"])
    if case.get("first_contact_at") is None and case.get("first_contact_due") is not None:
        return _dt(case["first_contact_due"])
    return _dt(case.get("resolve_due"))


def alert_for(case: Mapping, kind: str, dashboard_url: str = "") -> Alert:
    """The alert of one case: only the fields above, never the sender."""
    consent = case.get("consent", case.get("contact_consent"))
    score = case.get("score", case.get("nps_score"))
    return Alert(
        case_id=int(case["id"]),
        kind=kind,
        priority=str(case.get("priority") or ""),
        team=str(case.get("team") or ""),
        store=case.get("store"),
        channel=case.get("channel"),
        score=None if score is None else int(score),
        words=_words(case),
        drivers=tuple(case.get("drivers") or ()),
        consent=None if consent is None else bool(consent),
        due=due_of(case),
        link=f"{dashboard_url.rstrip('/')}/case?id={int(case['id'])}",
    )


# --- the policy ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    dashboard_url: str = ""
    repeat_minutes: int = 60
    digest_hour: int = 8
    # For the store-local digest hour and the at-risk alerts; without them the
    # digest hour is Europe/Warsaw's and no at-risk alert is planned.
    calendars: sla.Calendars | None = None

    @classmethod
    def from_settings(cls, settings, calendars: sla.Calendars | None = None) -> Policy:
        return cls(
            dashboard_url=settings.dashboard_url,
            repeat_minutes=settings.alert_repeat_minutes,
            digest_hour=settings.alert_digest_hour,
            calendars=calendars,
        )

    def calendar(self, store: str | None) -> sla.Calendar | None:
        return sla.calendar_for(store, self.calendars) if self.calendars else None


def digest_time(opened_at: datetime, hour: int, zone_name: str) -> datetime:
    """The first digest (at `hour`, local time) at or after a case opened."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(zone_name)
    local = opened_at.astimezone(zone)
    day = local.date()
    moment = datetime(day.year, day.month, day.day, hour, tzinfo=zone)
    if moment.astimezone(timezone.utc) < opened_at:
        day = day + timedelta(days=1)
        moment = datetime(day.year, day.month, day.day, hour, tzinfo=zone)
    return moment.astimezone(timezone.utc)


def _at_risk_since(case: Mapping, due: datetime, calendar: sla.Calendar) -> datetime | None:
    opened = _dt(case["opened_at"])
    paused = float(case.get("paused_seconds") or 0)
    budget = sla.business_seconds_between(opened, due, calendar) - paused
    if budget <= 0:
        return opened
    return sla.add_business_seconds(opened, sla.AT_RISK_SHARE * budget + paused, calendar)


def _one(case: Mapping, now: datetime, policy: Policy) -> str | None:
    """Which alert (kind) a case needs now, if any."""
    state = case.get("state")
    if state in CLOSED_STATES:
        return None
    last = _dt(case.get("last_alert_at"))
    last_kind = case.get("last_alert_kind")
    acked = _dt(case.get("acknowledged_at"))
    due = due_of(case)
    running = state != ON_HOLD  # on hold: the SLA clock is paused
    reopened = _dt(case.get("reopened_at"))
    # Its earlier alerts were about the case before it was closed: the team
    # hears of the reopening itself, once (then repeated until acknowledged).
    if state == states.REOPENED and reopened is not None and (last is None or last < reopened):
        return REOPENED
    if running and due is not None and now > due and (last is None or last <= due):
        return BREACH
    if last is None and state == "new" and case.get("priority") == HIGH:
        return NEW
    if (
        last is not None
        and (last_kind in IMMEDIATE or last_kind is None)
        and (acked is None or acked < last)
        and now - last >= timedelta(minutes=policy.repeat_minutes)
    ):
        return REPEAT
    calendar = policy.calendar(case.get("store"))
    if running and due is not None and calendar is not None and calendar.is_ever_open():
        since = _at_risk_since(case, due, calendar)
        if since is not None and now >= since and (last is None or last < since):
            return AT_RISK
    if last is None and state == "new":
        zone = calendar.timezone if calendar else "Europe/Warsaw"
        if now >= digest_time(_dt(case["opened_at"]), policy.digest_hour, zone):
            return DIGEST
    return None


def plan(cases: Iterable[Mapping], now: datetime, policy: Policy | None = None) -> list[Alert]:
    """The alerts to send now (pure). Each case is a dict with: id, state,
    priority, team, store, channel, score, reason, why_chain, drivers,
    consent, opened_at, and first_contact_due / resolve_due /
    first_contact_at (or one `due`), paused_seconds, last_alert_at,
    last_alert_kind, acknowledged_at; times as aware datetimes or Unix
    seconds; a reopened case also has reopened_at. The digest's cases come
    grouped in one alert per team."""
    policy = policy or Policy()
    now = _dt(now)
    immediate: list[Alert] = []
    digests: dict[str, list[Alert]] = {}
    for case in sorted(cases, key=lambda c: int(c["id"])):
        kind = _one(case, now, policy)
        if kind == DIGEST:
            digests.setdefault(str(case.get("team") or ""), []).append(
                alert_for(case, DIGEST, policy.dashboard_url)
            )
        elif kind is not None:
            immediate.append(alert_for(case, kind, policy.dashboard_url))
    for team in sorted(digests):
        items = tuple(digests[team])
        immediate.append(
            Alert(
                case_id=None,
                kind=DIGEST,
                team=team,
                cases=items,
                link=f"{policy.dashboard_url.rstrip('/')}/case",
            )
        )
    return immediate


# --- the messages (Polish: the team reads them) ------------------------------------------------

_TITLES = {
    NEW: "Nowa pilna sprawa",
    BREACH: "Przekroczony termin SLA",
    AT_RISK: "Termin SLA zagrożony",
    REPEAT: "Przypomnienie: sprawa czeka na potwierdzenie",
    REOPENED: "Sprawa otwarta ponownie po niskiej ocenie klienta",
    DIGEST: "Dzienne zestawienie nowych spraw",
}


def _consent_text(consent: bool | None) -> str:
    return {True: "tak", False: "nie"}.get(consent, "brak odpowiedzi")


def _facts(alert: Alert) -> list[tuple[str, str]]:
    return [
        ("Ocena", "—" if alert.score is None else f"{alert.score}/10"),
        ("Priorytet", alert.priority or "—"),
        ("Zespół", alert.team or "—"),
        ("Sklep", alert.store or "—"),
        ("Kanał", alert.channel or "—"),
        ("Czynniki", ", ".join(alert.drivers) or "—"),
        ("Zgoda na kontakt", _consent_text(alert.consent)),
        ("Termin", alert.due.strftime("%Y-%m-%d %H:%M UTC") if alert.due else "—"),
    ]


def title(alert: Alert) -> str:
    if alert.kind == DIGEST:
        return f"{_TITLES[DIGEST]} ({alert.team or 'bez zespołu'}): {len(alert.cases)}"
    return f"{_TITLES[alert.kind]}: sprawa #{alert.case_id}"


def text(alert: Alert) -> str:
    """The plain-text message (e-mail body, and the fallback of chat cards)."""
    if alert.kind == DIGEST:
        parts = [title(alert), ""]
        for item in alert.cases:
            score = "—" if item.score is None else f"{item.score}/10"
            words = item.words[0] if item.words else ""
            parts.append(f"#{item.case_id} ({score}, {item.store or '—'}): {words}")
            parts.append(f"  {item.link}")
        return "\n".join(parts)
    lines = [title(alert), ""]
    lines += [f"{name}: {value}" for name, value in _facts(alert)]
    if alert.words:
        lines += ["", "Słowa klienta:"] + [f"- {w}" for w in alert.words]
    lines += ["", f"Sprawa: {alert.link}"]
    return "\n".join(lines)


def slack_body(alert: Alert) -> dict:
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(alert)[:150]}}
    ]
    if alert.kind == DIGEST:
        for item in alert.cases:
            score = "—" if item.score is None else f"{item.score}/10"
            words = item.words[0] if item.words else ""
            blocks.append(
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": f"<{item.link}|#{item.case_id}> {score} · {item.store or '—'}"
                        f"\n{words}"[:3000],
                    },
                }
            )
    else:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{name}*\n{value}"}
                    for name, value in _facts(alert)
                ],
            }
        )
        if alert.words:
            quoted = "\n".join(f"> {w}" for w in alert.words)
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": quoted[:3000]}})
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Otwórz sprawę"},
                        "url": alert.link,
                    }
                ],
            }
        )
    return {"text": text(alert), "blocks": blocks}


def teams_body(alert: Alert) -> dict:
    """An Office 365 connector MessageCard (Teams' incoming webhooks)."""
    section: dict = {"activityTitle": title(alert)}
    if alert.kind == DIGEST:
        section["facts"] = [
            {
                "name": f"#{item.case_id}",
                "value": f"{'—' if item.score is None else f'{item.score}/10'} · "
                f"{item.store or '—'} · {item.words[0] if item.words else ''}",
            }
            for item in alert.cases
        ]
    else:
        section["facts"] = [{"name": name, "value": value} for name, value in _facts(alert)]
        section["text"] = "\n\n".join(alert.words)
    return {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": title(alert),
        "themeColor": "C0392B" if alert.kind in (BREACH, NEW, REPEAT) else "F39C12",
        "title": title(alert),
        "sections": [section],
        "potentialAction": [
            {
                "@type": "OpenUri",
                "name": "Otwórz sprawę" if alert.case_id else "Otwórz sprawy",
                "targets": [{"os": "default", "uri": alert.link}],
            }
        ],
    }


def webhook_body(alert: Alert, delivery_id: str, now: datetime) -> dict:
    return {
        "type": "nps.case_alert",
        "delivery_id": delivery_id,
        "timestamp": int(_ts(now)),
        "alert": alert.as_json(),
    }


def sign(body: bytes, secret: str) -> str:
    """The X-NPS-Signature-256 header's value for a raw body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secret: str) -> bool:
    """A receiver's check, in constant time (for tests and for receivers in Python)."""
    return bool(header) and hmac.compare_digest(sign(body, secret), header)


# --- sending --------------------------------------------------------------------------------


class DeliveryError(Exception):
    """One failed try: `retry` says whether trying again may help. The
    message names the kind of error only (no address, no words)."""

    def __init__(self, message: str, status_code: int | None = None, retry: bool = True):
        super().__init__(message)
        self.status_code = status_code
        self.retry = retry


def _post_json(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
    """POST a JSON body; the status code. http.client, not urllib: urllib
    rewrites header names ("X-nps-signature-256"), receivers may compare them
    exactly."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError("not an http(s) address", None, False)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/json; charset=utf-8", **headers},
        )
        response = connection.getresponse()
        response.read()
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(type(exc).__name__) from None
    finally:
        connection.close()
    if status >= 300:
        raise DeliveryError(f"HTTP {status}", status, status == 429 or status >= 500)
    return status


def _send_email(alert: Alert, settings, timeout: float) -> int:
    message = EmailMessage()
    message["Subject"] = title(alert)
    message["From"] = settings.alert_email_from
    message["To"] = ", ".join(settings.alert_email_to)
    message.set_content(text(alert))
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            refused = smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        retry = exc.smtp_code >= 400 and exc.smtp_code < 500
        raise DeliveryError(type(exc).__name__, exc.smtp_code, retry) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(type(exc).__name__) from None
    if refused:
        raise DeliveryError(f"{len(refused)} recipient(s) refused", None, False)
    return 250


def channels(settings) -> list[str]:
    """The channels configured in the settings."""
    out = []
    if settings.smtp_host and settings.alert_email_from and settings.alert_email_to:
        out.append("email")
    if settings.alert_slack_url:
        out.append("slack")
    if settings.alert_teams_url:
        out.append("teams")
    if settings.alert_webhook_url:
        out.append("webhook")
    return out


def _send(channel: str, alert: Alert, settings, now: datetime, timeout: float) -> int:
    if channel == "email":
        return _send_email(alert, settings, timeout)
    if channel == "slack":
        body = json.dumps(slack_body(alert), ensure_ascii=False).encode("utf-8")
        return _post_json(settings.alert_slack_url, body, {}, timeout)
    if channel == "teams":
        body = json.dumps(teams_body(alert), ensure_ascii=False).encode("utf-8")
        return _post_json(settings.alert_teams_url, body, {}, timeout)
    if not settings.alert_webhook_secret:
        raise DeliveryError("NPS_ALERT_WEBHOOK_SECRET is empty: not sent unsigned", None, False)
    delivery_id = str(uuid.uuid4())
    body = json.dumps(webhook_body(alert, delivery_id, now), ensure_ascii=False).encode("utf-8")
    headers = {
        SIGNATURE_HEADER: sign(body, settings.alert_webhook_secret),
        DELIVERY_HEADER: delivery_id,
    }
    return _post_json(settings.alert_webhook_url, body, headers, timeout)


@dataclass
class Outcome:
    alert: Alert
    channel: str
    sent: bool
    attempts: int
    error: str | None = None
    log: list[dict] = field(default_factory=list)


def _case_ids(alert: Alert) -> list[int | None]:
    return [c.case_id for c in alert.cases] if alert.kind == DIGEST else [alert.case_id]


def deliver(
    alerts: Iterable[Alert],
    settings,
    engine: Engine,
    now: datetime,
    *,
    attempts: int = 3,
    backoff_seconds: float = 2.0,
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Outcome]:
    """Send every alert on every configured channel; up to `attempts` tries
    per channel, waiting backoff, 2 x backoff, ... between them; each try is
    a row of alert_deliveries (one per case of a digest)."""
    ensure_tables(engine)
    now = _dt(now)
    started = time.monotonic()
    outcomes = []
    for alert in alerts:
        for channel in channels(settings):
            outcome = Outcome(alert, channel, False, 0)
            for attempt in range(1, attempts + 1):
                moment = now + timedelta(seconds=time.monotonic() - started)
                status, error, retry = None, None, False
                try:
                    status = _send(channel, alert, settings, moment, timeout)
                    result = SENT
                except DeliveryError as exc:
                    status, error, retry = exc.status_code, str(exc)[:255], exc.retry
                    result = RETRY if retry and attempt < attempts else FAILED
                rows = [
                    {
                        "case_id": case_id,
                        "kind": alert.kind,
                        "channel": channel,
                        "attempt": attempt,
                        "at": moment.timestamp(),
                        "outcome": result,
                        "status_code": status,
                        "error": error,
                    }
                    for case_id in _case_ids(alert)
                ]
                with engine.begin() as conn:
                    conn.execute(sa.insert(alert_deliveries), rows)
                outcome.attempts, outcome.error = attempt, error
                outcome.log.extend(rows)
                if result == SENT:
                    outcome.sent = True
                    break
                if result == FAILED:
                    break
                sleep(backoff_seconds * 2 ** (attempt - 1))
            outcomes.append(outcome)
    return outcomes


# --- reading the cases (the CLI) ----------------------------------------------------------------

# The fields of the cases table an alert may use (never `sender` or `person`).
_CASE_FIELDS = (
    "id",
    "response_id",
    "store",
    "channel",
    "priority",
    "team",
    "state",
    "opened_at",
    "first_contact_due",
    "resolve_due",
    "first_contact_at",
    "score",
    "paused_seconds",
    "acknowledged_at",
)


def read_cases(
    engine: Engine, projection: Engine | None = None, schema: str | None = None
) -> list[dict] | None:
    """The open cases as plan() reads them, or None when the database has no
    `cases` table yet. The customer's words, drivers and consent come from
    the analytics projection (by response_id) when it is given and has them;
    the last alerts and acknowledgements from this module's tables."""
    inspector = sa.inspect(engine)
    if not inspector.has_table("cases"):
        return None
    ensure_tables(engine)
    table = sa.Table("cases", sa.MetaData(), autoload_with=engine)
    columns = [table.c[name] for name in _CASE_FIELDS if name in table.c]
    with engine.connect() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(sa.select(*columns).where(table.c.state.not_in(CLOSED_STATES)))
        ]
        last = last_alerts(conn)
        acks = dict(conn.execute(sa.select(alert_acks.c.case_id, alert_acks.c.at)).all())
        reopened = _reopened_at(conn, engine)
    for row in rows:
        at, kind = last.get(row["id"], (None, None))
        row["last_alert_at"], row["last_alert_kind"] = at, kind
        row["reopened_at"] = reopened.get(row["id"])
        own = [t for t in (row.get("acknowledged_at"), acks.get(row["id"])) if t is not None]
        row["acknowledged_at"] = max(own) if own else None
    if projection is not None:
        _add_words(rows, projection, schema)
    return rows


def _reopened_at(conn: Connection, engine: Engine) -> dict[int, float]:
    """case id -> when it was last reopened, from the audit log (cases/store.py)."""
    if not sa.inspect(engine).has_table("case_log"):
        return {}
    log = sa.Table("case_log", sa.MetaData(), autoload_with=engine)
    rows = conn.execute(
        sa.select(log.c.case_id, sa.func.max(log.c.at))
        .where(log.c.action == "transition", log.c.field == "state", log.c.to == states.REOPENED)
        .group_by(log.c.case_id)
    )
    return dict(rows.all())


def _add_words(rows: list[dict], projection: Engine, schema: str | None) -> None:
    ids = [r["response_id"] for r in rows if r.get("response_id") is not None]
    inspector = sa.inspect(projection)
    if not ids or not inspector.has_table("responses", schema=schema):
        return
    meta = sa.MetaData(schema=schema)
    responses = sa.Table("responses", meta, autoload_with=projection)
    by_id: dict[int, dict] = {}
    with projection.connect() as conn:
        for r in conn.execute(
            sa.select(
                responses.c.response_id, responses.c.reason, responses.c.contact_consent
            ).where(responses.c.response_id.in_(ids))
        ):
            by_id[r.response_id] = {"reason": r.reason, "consent": r.contact_consent}
        if inspector.has_table("why_answers", schema=schema):
            why = sa.Table("why_answers", meta, autoload_with=projection)
            for r in conn.execute(
                sa.select(why.c.response_id, why.c.answer)
                .where(why.c.response_id.in_(ids))
                .order_by(why.c.response_id, why.c.position)
            ):
                by_id.setdefault(r.response_id, {}).setdefault("why_chain", []).append(r.answer)
        if inspector.has_table("driver_mentions", schema=schema):
            mentions = sa.Table("driver_mentions", meta, autoload_with=projection)
            for r in conn.execute(
                sa.select(mentions.c.response_id, mentions.c.driver, mentions.c.polarity)
                .where(mentions.c.response_id.in_(ids))
                .order_by(mentions.c.response_id, mentions.c.position)
            ):
                tag = f"{r.driver}:{r.polarity}" if r.polarity else r.driver
                by_id.setdefault(r.response_id, {}).setdefault("drivers", []).append(tag)
    for row in rows:
        row.update(by_id.get(row.get("response_id"), {}))


def run_once(settings, engine: Engine, now: datetime | None = None, out=None) -> int:
    """One round: read the cases, plan, deliver. Returns the number of alerts."""
    from analytics.db import AnalyticsError, is_postgresql, parse_url, tracker_engine

    now = now or datetime.now(timezone.utc)
    out = out or sys.stdout
    # The projection, read only, for the customers' words; without it the
    # alerts still go, with the case's own fields.
    try:
        projection = tracker_engine(settings.analytics_db_url)
        schema = (
            settings.analytics_schema
            if is_postgresql(parse_url(settings.analytics_db_url))
            else None
        )
    except AnalyticsError:
        projection, schema = None, None
    try:
        cases = read_cases(engine, projection, schema)
    finally:
        if projection is not None:
            projection.dispose()
    where = engine.url.render_as_string(hide_password=True)
    if cases is None:
        print(f"no cases table in {where} yet: nothing to alert", file=out)
        return 0
    calendars = sla.load(settings.data_dir)
    alerts = plan(cases, now, Policy.from_settings(settings, calendars))
    if not channels(settings):
        print(f"{len(alerts)} alert(s) due, but no alert channel is configured", file=out)
        return len(alerts)
    outcomes = deliver(alerts, settings, engine, now)
    sent = sum(o.sent for o in outcomes)
    print(f"{len(alerts)} alert(s), {sent} of {len(outcomes)} deliveries sent", file=out)
    return len(alerts)


def main(argv: list[str] | None = None) -> int:
    from analytics.settings import load_settings

    parser = argparse.ArgumentParser(
        prog="python -m cases.alerts", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="send the alerts that are due")
    run.add_argument("--once", action="store_true", help="one round, then exit")
    run.add_argument("--every", type=float, default=60.0, help="seconds between rounds")
    run.add_argument("--db", help="the cases' database URL (default NPS_CASES_DB_URL)")
    args = parser.parse_args(argv)
    from cases.store import cases_engine

    settings = load_settings()
    # SQLite: WAL and a busy timeout, so that Rasa's own writes are never
    # locked out for long (cases/store.py).
    engine = cases_engine(args.db or settings.cases_db_url)
    try:
        while True:
            run_once(settings, engine)
            if args.once:
                return 0
            time.sleep(args.every)
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
