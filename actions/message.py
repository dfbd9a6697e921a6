"""What the customer just said, as the actions need it."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from rasa_sdk import Tracker

from nps.text import words

# Intents that mean "nothing (more) to say" when they answer an open question.
NOTHING_TO_ADD = {"done", "deny"}
# A "nothing to add" answer longer than this is read as a real answer.
SHORT_ANSWER_WORDS = 5


def word_count(text: str) -> int:
    """Words as every parser sees them: folded, punctuation and emoji dropped."""
    return len(words(text))


@dataclass(frozen=True)
class Message:
    text: str
    intent: str | None
    confidence: float
    entities: list

    @property
    def word_count(self) -> int:
        return word_count(self.text)

    def names_a_driver(self, driver_ids: Container[str]) -> bool:
        """The NLU model tagged a driver of the catalogue in this message."""
        return any(e.get("entity") in driver_ids for e in self.entities)

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
