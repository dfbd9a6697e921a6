"""Settings and trainers' files, loaded once per action-server process.

Loaded on first use, not at import, so that tests can point NPS_DATA_DIR
elsewhere; ``python -m actions`` loads them before serving, so a malformed
file stops the server at start with a message naming file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from nps import drivers, known_issues, tips, why_questions
from nps.settings import Settings, load_settings


@dataclass(frozen=True)
class Resources:
    settings: Settings
    catalogue: dict[str, drivers.Driver]
    known_issues: list[known_issues.KnownIssue]
    why_questions: why_questions.WhyQuestions
    tips: dict[str, str]


@lru_cache(maxsize=1)
def get() -> Resources:
    settings = load_settings()
    data = settings.data_dir
    catalogue = drivers.load_catalogue(data / "drivers.yml")
    return Resources(
        settings=settings,
        catalogue=catalogue,
        known_issues=known_issues.load(data / "known_issues.yml", catalogue),
        why_questions=why_questions.load(data / "why_questions.yml", catalogue),
        tips=tips.load(data / "tips.yml", catalogue),
    )
