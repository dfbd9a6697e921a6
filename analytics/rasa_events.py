"""Rows of Rasa's `events` table, written the way Rasa 3.6 writes them.

One encoder for everything that fabricates conversations: the synthetic
generator (analytics.generate) and the tests (analytics/tests/conftest.py).
Each event is the JSON of `rasa.shared.core.events.Event.as_dict()`, and the
row's columns are filled like `SQLTrackerStore` fills them (`intent_name`
from the parse data, `action_name` from the event's `name`), so the
projection reads these rows exactly as it reads real conversations.

Names Rasa defines itself (not listed in our domain) are below, for checks
that every name written exists: `rasa.shared.core.constants` of Rasa 3.6.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Iterable

from analytics import tracker_source

# rasa.shared.core.constants.DEFAULT_INTENTS, DEFAULT_ACTION_NAMES (the ones a
# conversation of ours can show) and DEFAULT_SLOT_NAMES.
RASA_INTENTS = frozenset({"restart", "back", "out_of_scope", "session_start", "nlu_fallback"})
RASA_ACTIONS = frozenset(
    {
        "action_listen",
        "action_restart",
        "action_session_start",
        "action_default_fallback",
        "action_deactivate_loop",
        "action_extract_slots",
    }
)
RASA_SLOTS = frozenset({"requested_slot", "session_started_metadata"})


class EventWriter:
    """One sender's events in order, each stamped by a clock that `tick`
    advances after every event (`wait` adds a pause, e.g. the customer typing)."""

    def __init__(
        self,
        sender_id: str,
        channel: str,
        start: float,
        tick: Callable[[], float] = lambda: 10.0,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ):
        self.sender_id = sender_id
        self.channel = channel
        self.ts = start
        self.tick = tick
        self.new_id = new_id
        self.rows: list[dict] = []

    def _add(self, data: dict, intent: str | None = None) -> EventWriter:
        data = {"event": data["event"], "timestamp": self.ts, "metadata": {}, **data}
        self.rows.append(
            {
                "sender_id": self.sender_id,
                "type_name": data["event"],
                "timestamp": self.ts,
                "intent_name": intent,
                "action_name": data.get("name"),
                "data": json.dumps(data, ensure_ascii=False),
            }
        )
        self.ts += self.tick()
        return self

    def wait(self, seconds: float) -> EventWriter:
        self.ts += seconds
        return self

    def action(
        self, name: str, policy: str | None = None, confidence: float | None = None
    ) -> EventWriter:
        return self._add(
            {
                "event": "action",
                "name": name,
                "policy": policy,
                "confidence": confidence,
                "action_text": None,
                "hide_rule_turn": False,
            }
        )

    def session_started(self) -> EventWriter:
        return self._add({"event": "session_started"})

    def restart(self) -> EventWriter:
        return self._add({"event": "restart"})

    def user(
        self,
        text: str,
        intent: str,
        entities: Iterable[dict] = (),
        confidence: float = 1.0,
    ) -> EventWriter:
        message_id = self.new_id()
        parse = {
            "intent": {"name": intent, "confidence": confidence},
            "entities": list(entities),
            "text": text,
            "message_id": message_id,
            "metadata": {},
            "intent_ranking": [{"name": intent, "confidence": confidence}],
        }
        return self._add(
            {
                "event": "user",
                "text": text,
                "parse_data": parse,
                "input_channel": self.channel,
                "message_id": message_id,
            },
            intent=intent,
        )

    def bot(
        self, text: str | None, response: str | None = None, buttons: list | None = None
    ) -> EventWriter:
        """A bot message; `response` is the domain response it came from
        (Rasa keeps it as metadata.utter_action), None for a text an action
        composed itself."""
        return self._add(
            {
                "event": "bot",
                "metadata": {"utter_action": response} if response else {},
                "text": text,
                "data": {
                    "elements": None,
                    "quick_replies": None,
                    "buttons": buttons,
                    "attachment": None,
                    "image": None,
                    "custom": None,
                },
            }
        )

    def slot(self, name: str, value) -> EventWriter:
        return self._add({"event": "slot", "name": name, "value": value})

    def active_loop(self, name: str | None) -> EventWriter:
        return self._add({"event": "active_loop", "name": name})


def decoded(rows: Iterable[dict]) -> list[dict]:
    """The events of these rows as Rasa's dicts (for checks and tests)."""
    return [json.loads(row["data"]) for row in rows]


def write(conn, rows: list[dict]) -> None:
    """Insert event rows; ids come from the table's own sequence, as with
    Rasa. On PostgreSQL through COPY, an order of magnitude faster than
    INSERT for millions of events."""
    if not rows:
        return
    if conn.engine.url.get_backend_name() != "postgresql":
        tracker_source.insert_events(conn, rows)
        return
    buf = io.StringIO()
    out = csv.writer(buf)
    for r in rows:
        out.writerow(
            [
                r["sender_id"],
                r["type_name"],
                repr(r["timestamp"]),
                r["intent_name"] or "\\N",
                r["action_name"] or "\\N",
                r["data"],
            ]
        )
    buf.seek(0)
    cursor = conn.connection.driver_connection.cursor()
    # The search_path (schema) of the connection decides where `events` is.
    cursor.copy_expert(
        "COPY events (sender_id, type_name, timestamp, intent_name, action_name, data) "
        "FROM STDIN WITH (FORMAT csv, NULL '\\N')",
        buf,
    )
