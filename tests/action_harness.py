"""Run one custom action the way Rasa does: a Tracker, a dispatcher, the domain.

Rasa sends the action server the tracker *after* slot extraction, so a
form's validation sees the answer both as the latest user message and as a
SlotSet since that message; ``tracker_for`` builds exactly that.

The domain is the one the settings name (NPS_DOMAIN, default domain/), so
the reworded-copy test can run the action tests on a reworded domain.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from pathlib import Path

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from nps.domain import load_domain
from nps.settings import load_settings


@lru_cache(maxsize=4)
def _domain_at(path: Path) -> dict:
    return load_domain(path)


def domain() -> dict:
    """The merged domain at NPS_DOMAIN, read once per path."""
    return _domain_at(load_settings().domain_path)


def tracker_for(
    text: str = "",
    intent: str = "feedback",
    confidence: float = 0.95,
    entities: list | None = None,
    slots: dict | None = None,
    requested_slot: str | None = None,
    active_loop: str | None = None,
) -> Tracker:
    slots = dict(slots or {})
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
    }
    events = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": parse},
    ]
    if requested_slot:
        slots["requested_slot"] = requested_slot
        slots.setdefault(requested_slot, text)
        events.append({"event": "slot", "name": requested_slot, "value": slots[requested_slot]})
    return Tracker(
        sender_id="test-sender",
        slots=slots,
        latest_message=parse,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def run(action, tracker: Tracker) -> tuple[list[dict], list[dict]]:
    """Events the action returns, and the messages it sends."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain()))
    return events, dispatcher.messages


def slot_events(events: list[dict]) -> dict:
    """The SlotSet events as {name: value}, in order (later sets win)."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def responses(messages: list[dict]) -> list[str]:
    """What the action said: response names, or the literal text (custom
    payloads such as the web chat's survey_end signal are not said)."""
    return [
        m.get("response") or m.get("text") for m in messages if m.get("response") or m.get("text")
    ]


def custom_payloads(messages: list[dict]) -> list[dict]:
    """The custom payloads (json_message) the action sent."""
    return [m["custom"] for m in messages if m.get("custom")]


def entity(driver: str, role: str | None, value: str = "x") -> dict:
    found = {"entity": driver, "value": value, "start": 0, "end": len(value)}
    if role:
        found["role"] = role
    return found
