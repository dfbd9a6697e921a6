"""What the customer just said, as the actions need it.

The text is bounded here, once for every action: every channel caps a
message at ``NPS_MAX_MESSAGE_CHARS`` already, and this cap keeps every
string an action stores in a slot (a reason, a why-answer, a comment)
within the same limit whatever reaches the action server.
"""

from __future__ import annotations

from dataclasses import dataclass

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import resources
from actions import responses as say
from nps import understanding
from nps.text import cap, words

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
    # The channel cut the message at the length cap (metadata "shortened").
    shortened: bool = False

    @property
    def word_count(self) -> int:
        return word_count(self.text)

    def driver_tags(self, context_polarity: str | None) -> list[str]:
        """``driver:polarity`` tags of this message: the NLU model's entities
        and the trainers' lexicon, one polarity per phrase (nps/understanding.py);
        ``context_polarity`` is what the question implies when the words do not say."""
        found = understanding.find_drivers(
            self.text, self.entities, resources.get().understanding, context_polarity
        )
        return understanding.tags(found)

    @property
    def is_nothing_to_add(self) -> bool:
        return self.intent in NOTHING_TO_ADD and self.word_count <= SHORT_ANSWER_WORDS


def bounded(text: str) -> str:
    """A customer's text as an action may store it: at most the message cap."""
    return cap(text, resources.get().settings.max_message_chars)[0]


def _metadata(tracker: Tracker) -> dict:
    """The latest user message's metadata (Rasa puts it on the event)."""
    metadata = (tracker.latest_message or {}).get("metadata")
    if not metadata:
        user = next((e for e in reversed(tracker.events) if e.get("event") == "user"), {})
        metadata = user.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def latest(tracker: Tracker) -> Message:
    parsed = tracker.latest_message or {}
    intent = parsed.get("intent") or {}
    text = parsed.get("text")
    return Message(
        text=bounded(text.strip() if isinstance(text, str) else ""),
        intent=intent.get("name"),
        confidence=float(intent.get("confidence") or 0.0),
        entities=list(parsed.get("entities") or []),
        shortened=_metadata(tracker).get("shortened") is True,
    )


def _said_since_the_message(tracker: Tracker, response: str) -> bool:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if (
            event.get("event") == "bot"
            and (event.get("metadata") or {}).get("utter_action") == response
        ):
            return True
    return False


def note_if_shortened(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Tell the customer once that their message was cut, then answer as usual.

    Every action that answers a message calls this first; several may run in
    one turn (the form's validation, then a question), so the note is said
    only when no bot message of this turn said it already.
    """
    if latest(tracker).shortened and not _said_since_the_message(tracker, say.MESSAGE_SHORTENED):
        dispatcher.utter_message(response=say.MESSAGE_SHORTENED)
