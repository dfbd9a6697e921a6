"""When to retrain: answers collected since the model was trained, and the
share of them the bot did not understand.

``advice`` is the rule, pure: time to retrain once the answers since
training reach ``thresholds.answers`` (NPS_RETRAIN_ANSWERS, default 5000),
or once the share not understood reaches ``thresholds.not_understood``
(NPS_RETRAIN_NOT_UNDERSTOOD, default 0.10) over at least
``thresholds.min_answers`` answers (100: three answers of which one was
odd say nothing yet).

The data side: the model's training time is ``trained_at`` of the
``metadata.json`` inside models/nps-bot.tar.gz (Rasa writes it in UTC; read
with tarfile, no Rasa import). An answer is a customer's or an employee's
user message sent while a survey question was pending (``requested_slot``
set); not understood is what the trainers' inbox counts (analytics.inbox:
fallback, low confidence, a why-answer without a driver, a clarification).
"""

from __future__ import annotations

import datetime as dt
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from analytics import inbox, tracker_source
from analytics.settings import Settings

METADATA_FILE = "metadata.json"
# The cycle a trainer runs (docs/trainers.md, "The inbox").
COMMANDS = ("make inbox", "make validate", "make train", "make eval")


@dataclass(frozen=True)
class Thresholds:
    answers: int = 5000
    not_understood: float = 0.10
    min_answers: int = 100

    @classmethod
    def of(cls, settings: Settings) -> Thresholds:
        return cls(settings.retrain_answers, settings.retrain_not_understood)


@dataclass(frozen=True)
class Advice:
    retrain: bool
    answers: int
    not_understood: int
    share: float | None  # not understood / answers; None without answers
    reasons: tuple[str, ...]  # "answers", "not_understood": which threshold was passed
    message: str
    commands: tuple[str, ...] = COMMANDS


def advice(answers_since: int, not_understood_since: int, thresholds: Thresholds) -> Advice:
    """Retrain or not, and why, in Polish for the dashboard."""
    share = not_understood_since / answers_since if answers_since > 0 else None
    reasons = []
    if answers_since >= thresholds.answers:
        reasons.append("answers")
    if (
        share is not None
        and answers_since >= thresholds.min_answers
        and share >= thresholds.not_understood
    ):
        reasons.append("not_understood")
    if reasons:
        why = []
        if "answers" in reasons:
            why.append(f"{answers_since} odpowiedzi od treningu (próg {thresholds.answers})")
        if "not_understood" in reasons:
            why.append(f"{share:.0%} niezrozumianych (próg {thresholds.not_understood:.0%})")
        message = "Czas na ponowny trening: " + ", ".join(why) + "."
    elif share is not None and answers_since < thresholds.min_answers:
        message = (
            f"Jeszcze za wcześnie: {answers_since} odpowiedzi od treningu; udział "
            f"niezrozumianych oceniamy od {thresholds.min_answers} odpowiedzi."
        )
    else:
        message = (
            f"Trening jeszcze niepotrzebny: {answers_since} z {thresholds.answers} odpowiedzi"
            + (f", {share:.0%} niezrozumianych." if share is not None else ".")
        )
    return Advice(
        bool(reasons), answers_since, not_understood_since, share, tuple(reasons), message
    )


def trained_at(model_path: Path) -> dt.datetime | None:
    """When the model was trained (UTC), from its metadata.json; None when
    there is no model or it says nothing readable."""
    try:
        with tarfile.open(model_path, "r:*") as archive:
            for member in archive:
                if member.isfile() and Path(member.name).name == METADATA_FILE:
                    if len(Path(member.name).parts) > 2:
                        continue  # not the archive's own metadata
                    handle = archive.extractfile(member)
                    data = json.load(handle) if handle else {}
                    break
            else:
                return None
    except (OSError, tarfile.TarError, ValueError):
        return None
    value = data.get("trained_at") if isinstance(data, dict) else None
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    # Rasa writes datetime.utcnow(): naive, UTC.
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def first_event_after(engine: Engine, when: dt.datetime) -> int | None:
    """The id before the first event stored after `when` (None: none after)."""
    e = tracker_source.events
    with engine.connect() as conn:
        first = conn.execute(
            sa.select(sa.func.min(e.c.id)).where(e.c.timestamp > when.timestamp())
        ).scalar()
    return None if first is None else first - 1


@dataclass(frozen=True)
class Since:
    trained_at: dt.datetime | None
    messages: list  # analytics.inbox.Message, every user message since
    answers: int
    not_understood: int


def since_training(engine: Engine, settings: Settings, when: dt.datetime | None) -> Since:
    """The answers and those not understood since `when` (None: since the
    first event: no model yet)."""
    _, last = tracker_source.event_bounds(engine)
    after = 0 if when is None else first_event_after(engine, when)
    if last is None or after is None:
        return Since(when, [], 0, 0)
    und = inbox.understanding.load(settings.data_dir)
    scan = inbox.Reader(und, inbox.fallback_threshold()).scan(engine, after, last)
    if when is not None:
        cut = when.timestamp()
        messages = [m for m in scan.messages if m.timestamp is None or m.timestamp > cut]
    else:
        messages = scan.messages
    answers = [m for m in messages if m.answer]
    return Since(when, messages, len(answers), sum(m.not_understood for m in answers))
