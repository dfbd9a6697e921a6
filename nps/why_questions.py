"""The "5 whys": which question to ask in which round.

Trainers write the questions in data/why_questions.yml, by KIND of question:
``clarify`` (what exactly happened), ``cause`` (why it happened) and ``fix``
(what would have prevented it), generic ones and, optionally, ones phrased
for a driver. Each "why?" after a vague answer asks the next kind: round 0
clarifies, round 1 asks the cause, round 2 the fix, round 3 clarifies again
with the next wording, and so on, so the customer never reads the same kind
of question twice in a row. For each kind the driver's own wordings come
first, then the generic ones; a driver that omits a kind uses the generic.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from nps import trainer_yaml
from nps.trainer_yaml import TrainerFileError

KINDS = ("clarify", "cause", "fix")

Kinds = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class WhyQuestions:
    generic: Kinds
    by_driver: dict[str, Kinds] = field(default_factory=dict)

    @staticmethod
    def kind(round_: int) -> str:
        """The kind of question asked in this round (0 = the first why)."""
        return KINDS[round_ % len(KINDS)]

    def wordings(self, driver: str | None, kind: str) -> tuple[str, ...]:
        """Every wording of ``kind`` for ``driver``: its own first, then the generic ones."""
        own = self.by_driver.get(driver or "", {}).get(kind, ())
        return tuple(own) + tuple(self.generic[kind])

    def question(self, driver: str | None, round_: int) -> str:
        """The question of ``round_`` about ``driver`` (None: generic only)."""
        sequence = self.wordings(driver, self.kind(round_))
        return sequence[(round_ // len(KINDS)) % len(sequence)]

    def all_texts(self) -> set[str]:
        """Every question in the file (to recognise one in a transcript)."""
        texts = {q for qs in self.generic.values() for q in qs}
        for kinds in self.by_driver.values():
            texts.update(q for qs in kinds.values() for q in qs)
        return texts


def _texts(path: Path | str, value, where: str, line: int | None) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v.strip() for v in value)
    ):
        raise TrainerFileError(path, line, f"{where} must be a non-empty list of questions")
    return tuple(v.strip() for v in value)


def _kinds(path: Path | str, value, where: str, line: int | None, every: bool) -> Kinds:
    """The questions of one section by kind; ``every`` kind required (generic) or not."""
    if not isinstance(value, dict):
        raise TrainerFileError(
            path, line, f"{where} must map kinds of question ({', '.join(KINDS)}) to questions"
        )
    line = trainer_yaml.line_of(value) or line
    unknown = [k for k in value if k != trainer_yaml.LINE and k not in KINDS]
    if unknown:
        raise TrainerFileError(
            path, line, f"{where}: unknown kind '{unknown[0]}' (use {', '.join(KINDS)})"
        )
    missing = [k for k in KINDS if k not in value]
    if every and missing:
        raise TrainerFileError(path, line, f"{where}: kind '{missing[0]}' is missing")
    if not every and len(missing) == len(KINDS):
        raise TrainerFileError(path, line, f"{where} has no questions")
    return {k: _texts(path, value[k], f"{where}, '{k}'", line) for k in KINDS if k in value}


def load(path: Path | str, driver_ids: Container[str]) -> WhyQuestions:
    data = trainer_yaml.load(path)
    line = trainer_yaml.line_of(data)
    generic = _kinds(path, data.get("generic"), "'generic'", line, every=True)
    drivers = data.get("drivers") or {}
    if not isinstance(drivers, dict):
        raise TrainerFileError(path, line, "'drivers' must map driver ids to questions")
    line = trainer_yaml.line_of(drivers)
    by_driver = {}
    for driver_id, questions in drivers.items():
        if driver_id == trainer_yaml.LINE:
            continue
        if driver_id not in driver_ids:
            raise TrainerFileError(path, line, f"driver '{driver_id}' is not in data/drivers.yml")
        by_driver[driver_id] = _kinds(
            path, questions, f"questions for '{driver_id}'", line, every=False
        )
    return WhyQuestions(generic=generic, by_driver=by_driver)
