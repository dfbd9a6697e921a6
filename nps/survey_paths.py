"""The survey's paths, as the trainers declare them in data/survey_paths.yml.

Which questions each group gets after the score (and employees after their
link), in which order, and how many "why?" questions at most. nps/flow.py
walks these paths; this module only reads and checks the file, so that a
trainer's typo stops the action server at start (and ``make validate``)
with a message naming the file and line, never in a customer's turn.

A step is one of:

- a built-in question of that path (``BUILT_IN``), answered into its own
  slot of the data contract (``reason``, ``valued_most``...);
- ``whys``: the why-chain on what the previous answer named (nps/why_chain.py),
  followed by a known issue's fix when one matched;
- a trainer's own question, declared under ``questions:`` with the kind of
  answer it takes; its wording is ``utter_ask_<id>`` in domain/responses.yml
  and its answer goes to the ``survey_answers`` slot under its id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from nps.trainer_yaml import TrainerFileError, line_of, load

WHYS = "whys"
EMPLOYEE = "employee"
NO_SCORE = "no_score"
CUSTOMER_PATHS = ("promoter", "passive", "detractor", NO_SCORE)
PATHS = (*CUSTOMER_PATHS, EMPLOYEE)

# Built-in questions of each kind of path: slot name -> the polarity drivers
# found in the answer take (None: a yes/no or a score, no drivers).
CUSTOMER_QUESTIONS = {
    "reason": None,  # by group: praise for promoters, else complaint (actions)
    "improvement": "neg",
    "valued_most": "pos",
    "contact_consent": None,
}
EMPLOYEE_QUESTIONS = {
    "predicted_score": None,
    "predicted_praise": "pos",
    "predicted_complaint": "neg",
    "proposed_fix": None,
}
# The question a path's whys probe: the open answer before them that names problems.
WHYS_FOLLOW = {"customer": "reason", EMPLOYEE: "predicted_complaint"}
# Each path starts with its first question: customers' score comes before any
# path (the path depends on it), employees' predicted score opens theirs.
FIRST = {EMPLOYEE: "predicted_score"}

ANSWER_KINDS = ("text", "yes_no", "score")
_ID = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
# Slots of the data contract and bookkeeping: a trainer's question may not reuse them.
RESERVED = frozenset(
    {
        *CUSTOMER_QUESTIONS,
        *EMPLOYEE_QUESTIONS,
        WHYS,
        "nps_score",
        "nps_group",
        "why_answer",
        "issue_resolved",
        "nps_score_after",
        "survey_answer",
        "survey_answers",
        "drivers",
        "role",
    }
)
MAX_WHY_LIMIT = 10


@dataclass(frozen=True)
class Question:
    """A trainer's own question: its id and the kind of answer it takes."""

    id: str
    answer: str  # one of ANSWER_KINDS
    # Drivers found in a text answer take this polarity ("pos", "neg" or None: the words decide).
    polarity: str | None = None


@dataclass(frozen=True)
class SurveyPaths:
    why_limit: int
    paths: dict[str, tuple[str, ...]]
    questions: dict[str, Question]

    def path(self, name: str) -> tuple[str, ...]:
        return self.paths[name]


def built_in(path_name: str) -> dict[str, str | None]:
    return EMPLOYEE_QUESTIONS if path_name == EMPLOYEE else CUSTOMER_QUESTIONS


def _question(path: Path, item: object) -> Question:
    if not isinstance(item, dict):
        raise TrainerFileError(path, None, f"a question must be a mapping, got {item!r}")
    line = line_of(item)
    qid = item.get("id")
    if not isinstance(qid, str) or not _ID.match(qid):
        raise TrainerFileError(
            path, line, f"question id {qid!r}: use 2-41 lower-case letters, digits and '_'"
        )
    if qid in RESERVED:
        raise TrainerFileError(path, line, f"question id '{qid}' is a built-in name: pick another")
    answer = item.get("answer", "text")
    if answer not in ANSWER_KINDS:
        raise TrainerFileError(
            path, line, f"question '{qid}': answer must be one of {', '.join(ANSWER_KINDS)}"
        )
    polarity = item.get("polarity")
    if polarity not in (None, "pos", "neg"):
        raise TrainerFileError(path, line, f"question '{qid}': polarity must be pos or neg")
    unknown = set(item) - {"id", "answer", "polarity", "__line__"}
    if unknown:
        raise TrainerFileError(path, line, f"question '{qid}': unknown key(s) {sorted(unknown)}")
    return Question(qid, answer, polarity)


def _steps(path: Path, paths_map: dict, name: str, questions: dict[str, Question]) -> tuple:
    line = line_of(paths_map)
    steps = paths_map.get(name)
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
        raise TrainerFileError(path, line, f"paths: '{name}' must be a list of question ids")
    allowed = {*built_in(name), WHYS, *questions}
    for step in steps:
        if step not in allowed:
            other = EMPLOYEE_QUESTIONS if name != EMPLOYEE else CUSTOMER_QUESTIONS
            hint = (
                f" ('{step}' belongs to the {'employee' if name != EMPLOYEE else 'customer'} paths)"
                if step in other
                else " (declare it under questions:)"
            )
            raise TrainerFileError(path, line, f"paths: '{name}': unknown question '{step}'{hint}")
    repeated = sorted({s for s in steps if steps.count(s) > 1})
    if repeated:
        raise TrainerFileError(path, line, f"paths: '{name}' asks {repeated} twice")
    first = FIRST.get(name)
    if first and (not steps or steps[0] != first):
        raise TrainerFileError(path, line, f"paths: '{name}' must start with '{first}'")
    follows = WHYS_FOLLOW[EMPLOYEE if name == EMPLOYEE else "customer"]
    if WHYS in steps and (follows not in steps or steps.index(follows) > steps.index(WHYS)):
        raise TrainerFileError(
            path, line, f"paths: '{name}': 'whys' probe '{follows}', which must come before them"
        )
    return tuple(steps)


def parse(path: Path | str) -> SurveyPaths:
    """Read and check data/survey_paths.yml; TrainerFileError names file and line."""
    path = Path(path)
    data = load(path)
    why_limit = data.get("why_limit")
    if isinstance(why_limit, bool) or not isinstance(why_limit, int):
        raise TrainerFileError(path, line_of(data), "why_limit must be a whole number (0-10)")
    if not 0 <= why_limit <= MAX_WHY_LIMIT:
        raise TrainerFileError(path, line_of(data), f"why_limit must be 0-{MAX_WHY_LIMIT}")
    raw_questions = data.get("questions") or []
    if not isinstance(raw_questions, list):
        raise TrainerFileError(path, line_of(data), "top-level key 'questions:' must hold a list")
    questions: dict[str, Question] = {}
    for item in raw_questions:
        question = _question(path, item)
        if question.id in questions:
            raise TrainerFileError(path, line_of(item), f"question '{question.id}' declared twice")
        questions[question.id] = question
    paths_map = data.get("paths")
    if not isinstance(paths_map, dict):
        raise TrainerFileError(path, line_of(data), "top-level key 'paths:' must be a mapping")
    unknown = set(paths_map) - set(PATHS) - {"__line__"}
    if unknown:
        raise TrainerFileError(
            path, line_of(paths_map), f"paths: unknown path(s) {sorted(unknown)}; use {PATHS}"
        )
    missing = [name for name in PATHS if name not in paths_map]
    if missing:
        raise TrainerFileError(path, line_of(paths_map), f"paths: {missing} missing")
    paths = {name: _steps(path, paths_map, name, questions) for name in PATHS}
    unused = sorted(set(questions) - {s for steps in paths.values() for s in steps})
    if unused:
        raise TrainerFileError(path, None, f"question(s) {unused} declared but on no path")
    return SurveyPaths(why_limit=why_limit, paths=paths, questions=questions)


def check_wording(paths: SurveyPaths, responses: set[str], path: Path | str) -> list[str]:
    """Problems with the trainers' own questions: each needs ``utter_ask_<id>``."""
    return [
        f"{path}: question '{qid}' has no response utter_ask_{qid} in the domain"
        for qid in paths.questions
        if f"utter_ask_{qid}" not in responses
    ]


@lru_cache(maxsize=4)
def _cached(path: str, mtime_ns: int) -> SurveyPaths:
    return parse(path)


def load_file(path: Path | str) -> SurveyPaths:
    """The file's paths, parsed once per version of the file."""
    path = Path(path)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise TrainerFileError(path, None, "file not found") from None
    return _cached(str(path), mtime)
