"""The trainers' files agree with each other, and a mistake names file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from nps import check, drivers, known_issues, tips, why_questions
from nps.domain import load_domain
from nps.settings import REPO_ROOT
from nps.trainer_yaml import TrainerFileError

DATA = REPO_ROOT / "data"
DOMAIN = load_domain(REPO_ROOT / "domain")
CATALOGUE = drivers.load_catalogue(DATA / "drivers.yml")


def test_drivers_domain_and_nlu_agree():
    # The same check `make validate` runs (nps/check.py), on the real files.
    found, summary = check.problems(DATA, REPO_ROOT / "domain")
    assert found == [] and summary.startswith(f"{len(CATALOGUE)} drivers")


def test_a_driver_missing_from_the_domain_or_unknown_in_nlu_is_named(tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(DATA, data, ignore=shutil.ignore_patterns("stories"))
    stray = data / "nlu" / "stray.yml"
    stray.write_text(
        'version: "3.1"\nnlu:\n- intent: feedback\n  examples: |\n'
        '    - [pogoda]{"entity": "weather", "role": "neg"}\n',
        encoding="utf-8",
    )
    domain = tmp_path / "domain"
    shutil.copytree(REPO_ROOT / "domain", domain)
    entities = domain / "drivers.yml"
    text = entities.read_text(encoding="utf-8")
    entities.write_text(text.replace("  - price:\n      roles: [pos, neg]\n", ""), encoding="utf-8")
    found, _ = check.problems(data, domain)
    assert f"{entities}: driver 'price' (data/drivers.yml) is not an entity" in found
    assert f"{stray}:5: entity 'weather' is not a driver in data/drivers.yml" in found


def test_every_driver_has_its_nlu_file():
    for driver_id in CATALOGUE:
        assert (DATA / "nlu" / "drivers" / f"{driver_id}.yml").exists(), driver_id


def test_the_demo_files_load():
    assert len(known_issues.load(DATA / "known_issues.yml", CATALOGUE)) >= 6
    questions = why_questions.load(DATA / "why_questions.yml", CATALOGUE)
    assert set(questions.by_driver) == set(CATALOGUE)
    assert set(tips.load(DATA / "tips.yml", CATALOGUE)) <= set(CATALOGUE)


def test_every_response_an_action_names_exists():
    import re

    names = set()
    for path in (REPO_ROOT / "actions").glob("*.py"):
        names |= set(re.findall(r'"(utter_[a-z_]+)', path.read_text(encoding="utf-8")))
    names.discard("utter_ask_reason_")  # built from the group name
    names |= {f"utter_ask_reason_{g}" for g in ("promoter", "passive", "detractor", "neutral")}
    missing = names - set(DOMAIN["responses"])
    assert not missing


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "known_issues.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        (
            """\
         known_issues:
           - id: a
             driver: delivery
             match: [gdzie paczka]
         """,
            "known_issues.yml:2: entry 'a': 'fix' is missing or empty",
        ),
        (
            """\
         known_issues:
           - id: a
             driver: delivery
             match: [gdzie paczka]
             fix: ok
           - id: a
             driver: delivery
             match: [gdzie paczka]
             fix: ok
         """,
            "known_issues.yml:6: entry 'a' is listed twice",
        ),
        (
            """\
         known_issues:
           - id: b
             driver: pogoda
             match: [x]
             fix: ok
         """,
            "known_issues.yml:2: entry 'b': driver 'pogoda' is not in data/drivers.yml",
        ),
        (
            """\
         known_issues:
           - id: c
             driver: delivery
             match: gdzie paczka
             fix: ok
         """,
            "known_issues.yml:2: entry 'c': 'match' must be a list of phrases",
        ),
        (
            """\
         known_issues:
           - id: d
             driver: delivery
             match: [gdzie paczka]
             fix: ok
             link: javascript:alert(1)
         """,
            "known_issues.yml:2: entry 'd': 'link' must be an http(s) address",
        ),
        (
            """\
         known_issues:
           - id: e
             driver: delivery
            match: [x]
         """,
            "known_issues.yml:4: YAML syntax error",
        ),
        ("issues: []\n", "top-level key 'known_issues:' must hold a list"),
    ],
)
def test_a_malformed_known_issues_file_names_file_line_and_entry(tmp_path, text, message):
    with pytest.raises(TrainerFileError) as error:
        known_issues.load(write(tmp_path, text), CATALOGUE)
    assert message in str(error.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(TrainerFileError, match="nope.yml: file not found"):
        known_issues.load(tmp_path / "nope.yml", CATALOGUE)


def test_the_action_server_refuses_to_start_with_a_broken_file(tmp_path):
    import shutil
    import subprocess
    import sys

    data = tmp_path / "data"
    shutil.copytree(DATA, data, ignore=shutil.ignore_patterns("nlu", "stories"))
    (data / "known_issues.yml").write_text("known_issues:\n  - id: x\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "actions", "--port", "1"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), "NPS_DATA_DIR": str(data)},
    )
    assert result.returncode == 2
    assert "known_issues.yml:2: entry 'x': 'driver' is missing or empty" in result.stderr


def test_every_response_in_the_domain_is_used():
    """Rasa's validator calls responses used only by custom actions "unused";
    this is the real check: each response is said by an action, a rule or
    story, or asked by the survey form (utter_ask_<slot>)."""
    import re

    code = "\n".join(p.read_text(encoding="utf-8") for p in (REPO_ROOT / "actions").glob("*.py"))
    dialogue = "\n".join(
        p.read_text(encoding="utf-8")
        for p in [DATA / "rules.yml", *(DATA / "stories").glob("*.yml")]
    )
    form_slots = {s for form in DOMAIN["forms"].values() for s in form["required_slots"]}
    unused = [
        name
        for name in DOMAIN["responses"]
        if f'"{name}"' not in code
        and not re.search(rf"\b{name}\b", dialogue)
        and not (name.startswith("utter_ask_") and name[len("utter_ask_") :] in form_slots)
        and not name.startswith("utter_ask_reason_")  # chosen by group in ActionAskReason
    ]
    assert not unused
