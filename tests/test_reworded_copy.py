"""Trainers may reword anything the bot says without breaking a test.

A temporary copy of domain/ and data/ gets every text rewritten: every
response variant and button title in the domain, and every text a trainer
writes in data/*.yml (driver labels, known-issue titles and fixes,
why-questions, tips). Ids, match phrases, links, placeholders, NLU examples,
rules and stories stay as they are. The unit tests then run in a pytest
subprocess with NPS_DATA_DIR and NPS_DOMAIN pointing at the copy, and must
all pass: a test that asserts the trainers' wording fails there.

The subprocess runs every tests/test_*.py except this one and the tests
marked `rasa` (they start the real bot on the trained model, whose domain
is fixed at training time).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from nps.domain import domain_files
from nps.settings import REPO_ROOT, load_settings

TESTS = Path(__file__).resolve().parent
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def reworded(original: str, where: str) -> str:
    """A text unlike the original that keeps its {placeholders}."""
    kept = " ".join(_PLACEHOLDER.findall(original))
    return f"reworded {where} {kept}".strip()


def _reword_responses(responses: dict) -> int:
    count = 0
    for name, variants in responses.items():
        for i, variant in enumerate(variants):
            if "text" in variant:
                variant["text"] = reworded(variant["text"], f"{name} {i}")
                count += 1
            for j, button in enumerate(variant.get("buttons") or []):
                button["title"] = f"reworded {name} button {j}"
    return count


def reword_domain(domain_dir: Path) -> int:
    """Rewrite the responses of every file of the domain; returns how many texts."""
    count = 0
    for path in domain_files(domain_dir):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if data.get("responses"):
            count += _reword_responses(data["responses"])
            path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return count


def _drivers(data: dict) -> None:
    for driver in data["drivers"]:
        driver["label"] = reworded(driver["label"], f"label {driver['id']}")
        if driver.get("covers"):
            driver["covers"] = reworded(driver["covers"], f"covers {driver['id']}")


def _known_issues(data: dict) -> None:
    for issue in data["known_issues"]:
        issue["fix"] = reworded(issue["fix"], f"fix {issue['id']}")
        if issue.get("title"):
            issue["title"] = reworded(issue["title"], f"title {issue['id']}")


def _why_questions(data: dict) -> None:
    sections = [("generic", data["generic"]), *(data.get("drivers") or {}).items()]
    for name, kinds in sections:
        for kind, questions in kinds.items():
            kinds[kind] = [reworded(q, f"why {name} {kind} {i}") for i, q in enumerate(questions)]


def _tips(data: dict) -> None:
    data["tips"] = {d: reworded(text, f"tip {d}") for d, text in data["tips"].items()}


def _cases(data: dict) -> None:
    for resolution in data["resolutions"]:
        resolution["label"] = reworded(resolution["label"], f"resolution {resolution['code']}")


# The trainers' files in data/ and how to reword each; rules.yml, the survey
# paths (their questions' words are responses in the domain) and the
# business hours hold no text. A new file here fails the test until it is listed.
DATA_FILES: dict[str, Callable[[dict], None] | None] = {
    "drivers.yml": _drivers,
    "known_issues.yml": _known_issues,
    "why_questions.yml": _why_questions,
    "tips.yml": _tips,
    "cases.yml": _cases,
    "rules.yml": None,
    "survey_paths.yml": None,
    "business_hours.yml": None,
}


def reword_data(data_dir: Path) -> None:
    found = {p.name for p in data_dir.glob("*.yml")}
    assert found == set(DATA_FILES), f"say how to reword {sorted(found - set(DATA_FILES))}"
    for name, reword in DATA_FILES.items():
        if reword is None:
            continue
        path = data_dir / name
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        reword(data)
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")


def unit_test_files() -> list[Path]:
    return sorted(p for p in TESTS.glob("test_*.py") if p.name != Path(__file__).name)


def run_unit_tests(data_dir: Path, domain_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NPS_DATA_DIR": str(data_dir), "NPS_DOMAIN": str(domain_dir)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", *map(str, unit_test_files()), "-q", "-m", "not rasa"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_unit_tests_pass_on_a_copy_with_every_text_reworded(tmp_path):
    settings = load_settings()
    data, domain = tmp_path / "data", tmp_path / "domain"
    shutil.copytree(settings.data_dir, data)
    shutil.copytree(settings.domain_path, domain)
    texts = reword_domain(domain)
    reword_data(data)

    # The copy really differs: every response text, every why-question.
    original = yaml.safe_load((settings.data_dir / "why_questions.yml").read_text(encoding="utf-8"))
    copy = yaml.safe_load((data / "why_questions.yml").read_text(encoding="utf-8"))
    assert texts > 0 and not set(original["generic"]["clarify"]) & set(copy["generic"]["clarify"])

    result = run_unit_tests(data, domain)
    if result.returncode != 0:
        pytest.fail(f"unit tests on the reworded copy in {tmp_path}:\n{result.stdout[-6000:]}")
    assert re.search(r"\d+ passed", result.stdout), result.stdout[-2000:]
