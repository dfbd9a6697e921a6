"""Which question comes next: the survey's branching as one pure function.

The survey form asks the first slot of ``required_slots`` that is still
empty. The paths themselves (which questions each group gets, in which
order) are the trainers', in data/survey_paths.yml (nps/survey_paths.py);
the rules for walking them are here, away from Rasa, so that a plain table
test walks every path: promoter, passive, detractor, no score, employee, a
known issue found, the why-chain reaching its limit or stopped by the
customer, a trainer's own question.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nps import survey_paths
from nps.drivers import main_negative
from nps.groups import DETRACTOR
from nps.settings import Settings
from nps.survey_paths import EMPLOYEE, SurveyPaths


def _settings_paths(settings: Settings, paths: SurveyPaths | None) -> SurveyPaths:
    return paths if paths is not None else survey_paths.load_file(settings.survey_paths_file)


def max_whys(settings: Settings, paths: SurveyPaths | None = None) -> int:
    """How many "why?" answers at most: the trainers' ``why_limit``, unless an
    operator set NPS_MAX_WHYS."""
    if settings.max_whys is not None:
        return settings.max_whys
    return _settings_paths(settings, paths).why_limit


def is_employee(slots: Mapping[str, Any]) -> bool:
    return slots.get("role") == EMPLOYEE


def path_name(slots: Mapping[str, Any]) -> str:
    """The path of data/survey_paths.yml this conversation follows."""
    if is_employee(slots):
        return EMPLOYEE
    return slots.get("nps_group") or survey_paths.NO_SCORE


def _answered(step: str, slots: Mapping[str, Any], paths: SurveyPaths) -> bool:
    """Has this step of the path been answered (or given up on)?"""
    if step in (slots.get("skipped_slots") or []):
        return True
    if step in paths.questions:
        return step in (slots.get("survey_answers") or {})
    return slots.get(step) is not None


def wants_another_why(
    slots: Mapping[str, Any], settings: Settings, paths: SurveyPaths | None = None
) -> bool:
    """Ask one more "why?", for a path with a ``whys`` step?

    Detractors and employees (about the complaint they predicted) are always
    probed (generically when no driver was caught); the other groups only
    when they named something negative before the question after the whys
    (a wish named in "what would make it a 10?" is the answer, not a new
    problem to probe: probing it would ask "why?" after the last question);
    nobody who gave no answer to probe (asking "why?" about nothing would
    only annoy). The chain stops once it has ended (``why_stop``: a specific
    answer, a known issue, "nothing more", the limit, answers without
    content; see nps/why_chain.py), and at ``max_whys`` answers whatever the
    slot says. ``whys_done`` is the older way of ending it, still honoured for
    conversations stored before ``why_stop`` and for the demo generator.
    """
    paths = _settings_paths(settings, paths)
    steps = paths.path(path_name(slots))
    if survey_paths.WHYS not in steps:
        return False
    if slots.get("why_stop") or slots.get("whys_done") or slots.get("known_issue"):
        return False
    follows = survey_paths.WHYS_FOLLOW["employee" if is_employee(slots) else "customer"]
    if follows in (slots.get("skipped_slots") or []):
        return False
    chain = slots.get("why_chain") or []
    if len(chain) >= max_whys(settings, paths):
        return False
    if is_employee(slots) or slots.get("nps_group") == DETRACTOR:
        return True
    after = steps[steps.index(survey_paths.WHYS) + 1 :]
    if not chain and any(_answered(step, slots, paths) for step in after):
        return False
    return main_negative(slots.get("drivers")) is not None


def why_driver(slots: Mapping[str, Any]) -> str | None:
    """The driver the next "why?" probes: the one the last answer that named a
    negative driver named (``why_driver``), else the main negative driver."""
    return slots.get("why_driver") or main_negative(slots.get(drivers_slot(slots)))


def drivers_slot(slots: Mapping[str, Any]) -> str:
    """Where this conversation's driver tags go: employees' are their own."""
    return "employee_drivers" if is_employee(slots) else "drivers"


# Slots a path step may leave open and that decide what comes after them: the
# walk stops there (the whys depend on the answer they probe).
_DECIDING = {"reason", "predicted_score", "predicted_complaint"}
# The trainers' own questions are asked one at a time through this slot.
OWN_QUESTION_SLOT = "survey_answer"


def _walk(
    slots: Mapping[str, Any], settings: Settings, paths: SurveyPaths
) -> tuple[list[str], str | None]:
    """The slots the survey still needs, in order, and the trainers' own
    question that ``survey_answer`` stands for (None: none is open)."""
    skipped = set(slots.get("skipped_slots") or [])

    def open_(name: str) -> bool:
        return slots.get(name) is None and name not in skipped

    required: list[str] = []
    if not is_employee(slots):
        required = [] if "nps_score" in skipped else ["nps_score"]
        if open_("nps_score"):
            return required, None
    steps = paths.path(path_name(slots))
    whys_at = steps.index(survey_paths.WHYS) if survey_paths.WHYS in steps else None
    # A known fix is offered after the whys (or after the reason on a path without them).
    fix_after = survey_paths.WHYS if whys_at is not None else "reason"
    own: str | None = None
    for step in steps:
        if step == survey_paths.WHYS:
            if wants_another_why(slots, settings, paths):
                required.append("why_answer")
        elif step in paths.questions:
            if own is None and not _answered(step, slots, paths):
                own = step
                required.append(OWN_QUESTION_SLOT)
        elif step not in skipped:
            required.append(step)
            if step in _DECIDING and open_(step):
                return required, None
        if step == fix_after and slots.get("known_issue") and not is_employee(slots):
            if "issue_resolved" not in skipped:
                required.append("issue_resolved")
            if slots.get("issue_resolved") is True and "nps_score_after" not in skipped:
                required.append("nps_score_after")
    return required, own


def required_slots(
    slots: Mapping[str, Any], settings: Settings, paths: SurveyPaths | None = None
) -> list[str]:
    """The slots the survey still needs, in order, for the answers so far."""
    return _walk(slots, settings, _settings_paths(settings, paths))[0]


def own_question(
    slots: Mapping[str, Any], settings: Settings, paths: SurveyPaths | None = None
) -> str | None:
    """The trainers' own question ``survey_answer`` stands for now, if any."""
    return _walk(slots, settings, _settings_paths(settings, paths))[1]


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
