"""Which question comes next: the survey's branching as one pure function.

The survey form asks the first slot of ``required_slots`` that is still
empty. Keeping the branching here, away from Rasa, lets a plain table test
walk every path: promoter, passive, detractor, no score, a known issue
found, the why-chain reaching its limit or stopped by the customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nps.drivers import main_negative
from nps.groups import DETRACTOR, PASSIVE, PROMOTER
from nps.settings import Settings


def wants_another_why(slots: Mapping[str, Any], settings: Settings) -> bool:
    """Ask one more "why?"?

    Detractors are always probed (generically when no driver was caught);
    passives only when they named something negative before "what would make
    it a 10?" (a wish named there is the answer, not a new problem to probe:
    probing it would ask "why?" after the last question); promoters never;
    nobody who gave no reason (asking "why?" about nothing would only annoy).
    The chain stops once it has ended (``why_stop``: a specific answer, a
    known issue, "nothing more", the limit, answers without content; see
    nps/why_chain.py), and at ``max_whys`` answers whatever the slot says.
    ``whys_done`` is the older way of ending it, still honoured for
    conversations stored before ``why_stop`` and for the demo generator.
    """
    if slots.get("why_stop") or slots.get("whys_done") or slots.get("known_issue"):
        return False
    if "reason" in (slots.get("skipped_slots") or []):
        return False
    if len(slots.get("why_chain") or []) >= settings.max_whys:
        return False
    group = slots.get("nps_group")
    if group == DETRACTOR:
        return True
    if group == PROMOTER:
        return False
    if slots.get("improvement") is not None and not slots.get("why_chain"):
        return False
    return main_negative(slots.get("drivers")) is not None


def why_driver(slots: Mapping[str, Any]) -> str | None:
    """The driver the next "why?" probes: the one the last answer that named a
    negative driver named (``why_driver``), else the main negative driver."""
    return slots.get("why_driver") or main_negative(slots.get("drivers"))


def required_slots(slots: Mapping[str, Any], settings: Settings) -> list[str]:
    """The slots the survey still needs, in order, for the answers so far."""
    skipped = set(slots.get("skipped_slots") or [])

    def open_(name: str) -> bool:
        return slots.get(name) is None and name not in skipped

    required = [] if "nps_score" in skipped else ["nps_score"]
    if open_("nps_score"):
        return required
    if "reason" not in skipped:
        required.append("reason")
    if open_("reason"):
        return required
    if wants_another_why(slots, settings):
        required.append("why_answer")
    if slots.get("known_issue"):
        if "issue_resolved" not in skipped:
            required.append("issue_resolved")
        if slots.get("issue_resolved") is True and "nps_score_after" not in skipped:
            required.append("nps_score_after")
    group = slots.get("nps_group")
    follow_up = {PASSIVE: "improvement", PROMOTER: "valued_most", DETRACTOR: "contact_consent"}
    if group in follow_up and follow_up[group] not in skipped:
        required.append(follow_up[group])
    return required


DAY_SECONDS = 24 * 60 * 60


def recently_surveyed(last_survey_at: float | None, now: float, resurvey_days: int) -> bool:
    """True when the last survey ended less than ``resurvey_days`` ago."""
    if last_survey_at is None:
        return False
    return now - float(last_survey_at) < resurvey_days * DAY_SECONDS


TOUCHPOINT_MAX_LENGTH = 64
_TOUCHPOINT_PUNCTUATION = frozenset("_-.")


def clean_touchpoint(value: Any) -> str | None:
    """A touchpoint from a start payload, lower-cased, or None when it is not a short id.

    The one rule for every channel and action: the payload comes from a link
    anyone can edit (an m.me ``ref``, a web chat ``data-touchpoint``), so only
    ids of up to 64 ASCII letters, digits, '_', '-' and '.' are kept
    ("summer.sale"); anything else is dropped, never rewritten.
    """
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    if (
        0 < len(value) <= TOUCHPOINT_MAX_LENGTH
        and value.isascii()
        and all(ch.isalnum() or ch in _TOUCHPOINT_PUNCTUATION for ch in value)
    ):
        return value
    return None
