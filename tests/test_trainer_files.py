"""The trainers' files agree with each other and with the actions, and a
mistake names file and line.

The files are the ones the settings name (NPS_DATA_DIR, NPS_DOMAIN; by
default data/ and domain/), so the same checks run on the reworded copy in
test_reworded_copy.py.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from actions import responses as say
from nps import check, drivers, known_issues
from nps.domain import load_domain
from nps.groups import GROUPS
from nps.settings import REPO_ROOT, load_settings
from nps.trainer_yaml import TrainerFileError

SETTINGS = load_settings()
DATA = SETTINGS.data_dir
DOMAIN_PATH = SETTINGS.domain_path
DOMAIN = load_domain(DOMAIN_PATH)
CATALOGUE = drivers.load_catalogue(DATA / "drivers.yml")


def test_the_trainers_files_load_and_drivers_domain_and_nlu_agree():
    # The same check `make validate` runs (nps/check.py): every file loads,
    # and drivers, domain entities and NLU annotations name the same drivers.
    found, summary = check.problems(DATA, DOMAIN_PATH)
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
    shutil.copytree(DOMAIN_PATH, domain)
    entities = domain / "drivers.yml"
    text = entities.read_text(encoding="utf-8")
    entities.write_text(text.replace("  - price:\n      roles: [pos, neg]\n", ""), encoding="utf-8")
    found, _ = check.problems(data, domain)
    assert f"{entities}: driver 'price' (data/drivers.yml) is not an entity" in found
    assert f"{stray}:5: entity 'weather' is not a driver in data/drivers.yml" in found


def test_a_training_example_that_is_an_evaluation_comment_is_refused(tmp_path):
    """The evaluation files stay unseen: an example repeating one of their
    comments (markup, case and punctuation aside) is named with its line."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(DATA, data, ignore=shutil.ignore_patterns("stories"))
    eval_dir = data / "eval"
    eval_dir.mkdir(exist_ok=True)
    (eval_dir / "dev_comments.yml").write_text(
        'comments:\n  - text: "Kurier rzucił paczką pod bramę sąsiada!"\n'
        "    drivers: [delivery:neg]\n    context: detractor\n    tags: []\n",
        encoding="utf-8",
    )
    leak = data / "nlu" / "leak.yml"
    leak.write_text(
        'version: "3.1"\nnlu:\n- intent: feedback\n  examples: |\n'
        '    - [kurier rzucał paczki]{"entity": "delivery", "role": "neg"} pod bramę sąsiada\n'
        '    - [kurier rzucił paczką pod bramę sąsiada]{"entity": "delivery", "role": "neg"}\n',
        encoding="utf-8",
    )
    found, _ = check.problems(data, DOMAIN_PATH)
    leaks = [line for line in found if line.startswith(str(leak))]
    # only the same comment (folded alike), not another inflection of it
    assert len(leaks) == 1 and leaks[0].startswith(f"{leak}:6: ")
    assert "dev_comments.yml" in leaks[0]


def test_every_driver_has_its_nlu_file():
    for driver_id in CATALOGUE:
        assert (DATA / "nlu" / "drivers" / f"{driver_id}.yml").exists(), driver_id


def test_every_response_an_action_names_exists():
    missing = say.all_names() - set(DOMAIN["responses"])
    assert not missing, f"{DOMAIN_PATH}: no response named {sorted(missing)}"


def test_every_group_has_its_reason_question_and_its_thanks():
    assert set(say.ASK_REASON) == set(GROUPS)
    assert set(say.THANKS) == set(GROUPS)


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
        env={"PATH": "/usr/bin:/bin", "NPS_DATA_DIR": str(data)},
    )
    assert result.returncode == 2
    assert "known_issues.yml:2: entry 'x': 'driver' is missing or empty" in result.stderr


def dialogue_actions() -> set[str]:
    """Every action a rule or story of the trainers' data runs."""
    found = set()
    for path in [DATA / "rules.yml", *sorted((DATA / "stories").glob("*.yml"))]:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for flow in (data.get("rules") or []) + (data.get("stories") or []):
            found |= {step["action"] for step in flow.get("steps") or [] if "action" in step}
    return found


def test_every_response_in_the_domain_is_used():
    """Rasa's validator calls responses used only by custom actions "unused";
    this is the real check: each response is said by an action, run by a rule
    or story, or asked by a form (utter_ask_<slot>)."""
    asked_by_forms = {
        f"utter_ask_{slot}" for form in DOMAIN["forms"].values() for slot in form["required_slots"]
    }
    used = say.all_names() | dialogue_actions() | asked_by_forms
    unused = set(DOMAIN["responses"]) - used
    assert not unused, f"{DOMAIN_PATH}: responses nothing says: {sorted(unused)}"
