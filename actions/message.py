"""What the customer just said, as the actions need it."""

from __future__ import annotations

from dataclasses import dataclass

from rasa_sdk import Tracker

from nps.text import words

# Intents that mean "nothing (more) to say" when they answer an open question.
NOTHING_TO_ADD = {"done", "deny"}
# A "nothing to add" answer longer than this is read as a real answer.
SHORT_ANSWER_WORDS = 5


@dataclass(frozen=True)
class Message:
    text: str
    intent: str | None
    confidence: float
    entities: list

    @property
    def word_count(self) -> int:
        return len(words(self.text))

    @property
    def is_nothing_to_add(self) -> bool:
        return self.intent in NOTHING_TO_ADD and self.word_count <= SHORT_ANSWER_WORDS


def latest(tracker: Tracker) -> Message:
    parsed = tracker.latest_message or {}
    intent = parsed.get("intent") or {}
    return Message(
        text=(parsed.get("text") or "").strip(),
        intent=intent.get("name"),
        confidence=float(intent.get("confidence") or 0.0),
        entities=list(parsed.get("entities") or []),
    )
