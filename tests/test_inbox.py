"""The trainers' inbox on the Rasa side: the file `make inbox` writes
(analytics.inbox, run with the analytics environment's Python on the
hand-worked store of analytics/tests/test_inbox.py) loads with Rasa's own
loader, its lines moved into a copy of data/nlu pass `make validate`'s
duplicate checks (round trip), and an inbox line that gives a training
example another label is refused naming file and line."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from rasa.shared.nlu.training_data.loading import load_data

from nps import check
from nps.settings import REPO_ROOT, load_settings

ANALYTICS_PY = REPO_ROOT / ".venv-analytics" / "bin" / "python"
SETTINGS = load_settings()


def _analytics(*args: str, cwd: Path) -> str:
    assert ANALYTICS_PY.exists(), "the analytics environment is needed: make analytics-env"
    done = subprocess.run(
        [str(ANALYTICS_PY), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("inbox")
    url = f"sqlite:///{tmp / 'tracker.db'}"
    _analytics("-m", "analytics.tests.test_inbox", url, cwd=REPO_ROOT)
    out = _analytics(
        "-m", "analytics.inbox", "--db", url, "--out", str(tmp / "out"),
        "--state", str(tmp / "state.json"), cwd=REPO_ROOT,
    )  # fmt: skip
    assert "6 message(s) not understood in 5 line(s), 1 proposed fix(es)" in out
    (path,) = [p for p in (tmp / "out").glob("*.yml") if not p.name.endswith(".known_issues.yml")]
    return path


def test_the_export_loads_in_rasa(exported):
    data = load_data(str(exported))
    by_text = {m.get("text"): m for m in data.intent_examples}
    assert len(by_text) == 5
    kurier = by_text["kurierzy wiecznie się spóźniają"]
    assert kurier.get("intent") == "feedback"
    assert [(e["value"], e["entity"], e["role"]) for e in kurier.get("entities")] == [
        ("kurierzy", "delivery", "neg")
    ]
    assert by_text["zadzwońcie <telefon> albo napiszcie <e-mail>"].get("entities") in (None, [])


def _copy(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(SETTINGS.data_dir, data, ignore=shutil.ignore_patterns("inbox"))
    return data


def test_moved_lines_pass_the_duplicate_checks(exported, tmp_path):
    data = _copy(tmp_path)
    baseline = {p.replace(str(data), "") for p in check.problems(data, SETTINGS.domain_path)[0]}
    doc = yaml.safe_load(exported.read_text(encoding="utf-8"))
    blocks = []
    for block in doc["nlu"]:
        texts = [e["text"] for e in block["examples"] if not e["metadata"].get("in_training_data")]
        if texts:
            blocks.append(
                {"intent": block["intent"], "examples": "".join(f"- {t}\n" for t in texts)}
            )
    moved = data / "nlu" / "from_inbox.yml"
    moved.write_text(
        yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    # The export itself sits in the copy's inbox too: no line of it relabels
    # a training example.
    (data / "inbox").mkdir()
    shutil.copy(exported, data / "inbox" / exported.name)
    found, summary = check.problems(data, SETTINGS.domain_path)
    assert "inbox lines" in summary
    assert {p.replace(str(data), "") for p in found} == baseline
    assert load_data(str(moved)).intent_examples  # and Rasa reads the moved file


def test_an_inbox_line_that_relabels_a_training_example_is_refused(tmp_path):
    data = _copy(tmp_path)
    (data / "inbox").mkdir()
    # "cześć" is a greet example of data/nlu/conversation.yml; here (line 7) feedback.
    (data / "inbox" / "2026-01-02.yml").write_text(
        textwrap.dedent(
            """\
            version: "3.1"
            nlu:
            - intent: feedback
              examples:
              - text: zupełnie nowe zdanie
                metadata: {count: 1}
              - text: Cześć!
                metadata: {count: 4}
            """
        ),
        encoding="utf-8",
    )
    found, _ = check.problems(data, SETTINGS.domain_path)
    inbox = [p for p in found if "/inbox/" in p]
    assert len(inbox) == 1
    assert inbox[0].startswith(
        f"{data / 'inbox' / '2026-01-02.yml'}:7: repeats the training example at "
    )
    assert "conversation.yml" in inbox[0] and "intent 'greet'" in inbox[0]


def test_duplicates_and_conflicts_in_the_nlu_files_are_named(tmp_path):
    data = _copy(tmp_path)
    baseline = set(check.problems(data, SETTINGS.domain_path)[0])
    (data / "nlu" / "extra.yml").write_text(
        textwrap.dedent(
            """\
            version: "3.1"
            nlu:
            - intent: feedback
              examples: |
                - całkiem nowy przykład
                - Całkiem  nowy przykład!
            - intent: deny
              examples: |
                - całkiem nowy przykład
                - [kurier był niemiły]{"entity": "staff", "role": "neg"}
                - [kurier był niemiły]{"entity": "delivery", "role": "neg"} i tyle
            """
        ),
        encoding="utf-8",
    )
    new = [p for p in check.problems(data, SETTINGS.domain_path)[0] if p not in baseline]
    extra = data / "nlu" / "extra.yml"
    assert [p.split(": ", 1)[0] for p in new] == [f"{extra}:6", f"{extra}:9", f"{extra}:11"]
    assert "the same example as" in new[0]
    assert "also under intent 'feedback'" in new[1]
    assert "annotated delivery:neg here but staff:neg" in new[2]
