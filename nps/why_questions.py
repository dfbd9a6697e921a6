"""The "5 whys": which question to ask in which round.

Trainers write the questions in data/why_questions.yml: for each driver a
few questions phrased for it, and generic follow-ups. Round 0 asks the
driver's first question, then its others, then the generic ones, cycling,
so the customer never reads the same question twice in a row.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from pathlib import Path

from nps import trainer_yaml
from nps.trainer_yaml import TrainerFileError


@dataclass(frozen=True)
class WhyQuestions:
    generic: tuple[str, ...]
    by_driver: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def question(self, driver: str | None, round_: int) -> str:
        sequence = self.by_driver.get(driver or "", ()) + self.generic
        return sequence[round_ % len(sequence)]


def _texts(path: Path | str, value, where: str, line: int | None) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v.strip() for v in value)
    ):
        raise TrainerFileError(path, line, f"{where} must be a non-empty list of questions")
    return tuple(v.strip() for v in value)


def load(path: Path | str, driver_ids: Container[str]) -> WhyQuestions:
    data = trainer_yaml.load(path)
    line = trainer_yaml.line_of(data)
    generic = _texts(path, data.get("generic"), "'generic'", line)
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
        by_driver[driver_id] = _texts(path, questions, f"questions for '{driver_id}'", line)
    return WhyQuestions(generic=generic, by_driver=by_driver)
