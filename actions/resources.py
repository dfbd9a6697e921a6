"""Settings and trainers' files, loaded once per action-server process.

Loaded on first use, not at import, so that tests can point NPS_DATA_DIR
elsewhere; ``python -m actions`` loads them before serving, so a malformed
file stops the server at start with a message naming file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from nps import drivers, known_issues, lemmas, survey_paths, tips, understanding, why_questions
from nps.settings import Settings, load_settings


@dataclass(frozen=True)
class Resources:
    settings: Settings
    catalogue: dict[str, drivers.Driver]
    known_issues: list[known_issues.KnownIssue]
    why_questions: why_questions.WhyQuestions
    tips: dict[str, str]
    # The drivers' lexicon with the catalogue: what find_drivers needs.
    understanding: understanding.Understanding
    # Which questions each group (and employees) get: data/survey_paths.yml.
    survey_paths: survey_paths.SurveyPaths


@lru_cache(maxsize=1)
def get() -> Resources:
    settings = load_settings()
    data = settings.data_dir
    catalogue = drivers.load_catalogue(data / "drivers.yml")
    # The lemma index is loaded now, at the start, not in a customer's turn.
    lemmas.analyse("paczka")
    return Resources(
        settings=settings,
        catalogue=catalogue,
        known_issues=known_issues.load(data / "known_issues.yml", catalogue),
        why_questions=why_questions.load(data / "why_questions.yml", catalogue),
        tips=tips.load(data / "tips.yml", catalogue),
        understanding=understanding.load(data),
        survey_paths=survey_paths.parse(settings.survey_paths_file),
    )
