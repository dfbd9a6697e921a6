"""``python -m nps.check``: check the trainers' files before training or serving.

Rasa's own ``rasa data validate`` checks NLU, stories and the domain; this
checks what Rasa does not know about: the driver catalogue and its lexicon,
known issues, why-questions and tips, and that drivers, domain entities and NLU examples
name the same drivers; that no NLU example is there twice, under two
intents, or with its words annotated as two different drivers or roles; and
that no line of the trainers' inbox (data/inbox/*.yml, which Rasa never
trains on) repeats a training example with another label. Each problem is
one line naming the file (and line).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from cases import rules as case_rules
from cases import sla
from nps import drivers, known_issues, lexicon, survey_paths, tips, why_questions
from nps.domain import domain_files, load_domain
from nps.settings import load_settings
from nps.text import words
from nps.trainer_yaml import TrainerFileError

_ANNOTATED = re.compile(r'"entity"\s*:\s*"([^"]+)"')
# "[kurier zgubił]{"entity": ...} paczkę" -> "kurier zgubił paczkę"
_MARKUP = re.compile(r"\[([^\]]*)\](?:\{[^}]*\}|\([^)]*\))")
# One entity annotation as Rasa's entities_parser reads it:
# [words]{"entity": "delivery", "role": "neg"} or [words](entity) / (entity:value).
_ENTITY = re.compile(r"\[([^\]]+?)\](?:\{([^}]+?)\}|\(([^:)]+?)(?::[^)]+)?\))")
# The trainers' inbox (analytics.inbox): candidate examples, never training data.
INBOX_DIR = "inbox"
# Its candidate known issues, in data/known_issues.yml's shape, not NLU.
INBOX_KNOWN_ISSUES_SUFFIX = ".known_issues.yml"
# The evaluation files: their comments must never be trained on, or their
# scores stop meaning anything (make eval, make eval-dev).
EVAL_FILES = ("comments.yml", "dev_comments.yml")


def _key(text: str) -> str:
    """A comment as the check compares it: folded words, punctuation dropped."""
    return " ".join(words(text))


_WORDS = re.compile(r"\w+")


def example_key(text: str) -> str:
    """An NLU example as the duplicate checks compare it: lower-case words,
    punctuation and spacing dropped, Polish letters kept. "pięć" and "piec"
    stay two examples (trainers add the form typed without diacritics on
    purpose); "Pięć!" and "pięć" are one."""
    return " ".join(_WORDS.findall(text.lower())).replace("_", " ").strip()


def eval_comments(data_dir: Path) -> dict[str, str]:
    """Every evaluation comment's key -> the file it is in."""
    found: dict[str, str] = {}
    for name in EVAL_FILES:
        path = data_dir / "eval" / name
        if not path.exists():
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("comments") or []:
            if isinstance(item, dict) and item.get("text"):
                found.setdefault(_key(str(item["text"])), str(path))
    return found


# Entities of start payloads, not drivers: where the survey started, and an
# employee's signed link (domain/survey.yml, domain/employee.yml).
NOT_DRIVERS = frozenset({"touchpoint", "employee_link"})


def domain_drivers(domain_path: Path) -> dict[str, list]:
    domain = load_domain(domain_path)
    found = {}
    for item in domain["entities"]:
        name, spec = (item, {}) if isinstance(item, str) else next(iter(item.items()))
        if name not in NOT_DRIVERS:
            found[name] = sorted((spec or {}).get("roles") or [])
    return found


def _entities_file(domain_path: Path) -> str:
    """The domain file a trainer should open to fix a driver entity."""
    for file in domain_files(domain_path):
        if "entities:" in file.read_text(encoding="utf-8") and "roles:" in file.read_text(
            encoding="utf-8"
        ):
            return str(file)
    return str(domain_path)


@dataclass(frozen=True)
class Example:
    """One NLU example: where it is, its intent, and what it teaches."""

    path: str
    line: int
    intent: str
    text: str  # as written, with the entity markup
    plain: str  # the markup removed: what the customer typed
    spans: tuple[tuple[str, str, str | None], ...]  # (folded words, entity, role)

    @property
    def key(self) -> str:
        return example_key(self.plain)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def entities(self) -> frozenset[tuple[str, str | None]]:
        return frozenset((entity, role) for _, entity, role in self.spans)

    @property
    def label(self) -> str:
        """The intent and the drivers it teaches, for messages."""
        tags = sorted(f"{e}:{r}" if r else e for e, r in self.entities)
        return f"intent '{self.intent}'" + (f" with {', '.join(tags)}" if tags else "")


def parse_example(text: str) -> tuple[str, tuple[tuple[str, str, str | None], ...]]:
    """(plain text, annotated spans) of one example written in Rasa's markup."""
    spans = []
    for m in _ENTITY.finditer(text):
        words_, as_dict, as_name = m.group(1), m.group(2), m.group(3)
        entity, role = as_name, None
        if as_dict is not None:
            try:
                spec = json.loads("{" + as_dict + "}")
            except ValueError:
                spec = {}
            entity, role = spec.get("entity"), spec.get("role")
        if entity:
            spans.append((example_key(words_), str(entity), str(role) if role else None))
    return _ENTITY.sub(r"\1", text), tuple(spans)


def nlu_examples(path: Path) -> Iterator[Example]:
    """Every intent example of an NLU file in Rasa's YAML format, with its
    line: `examples: |` blocks (one "- " line each) and lists of
    {text, metadata} items (what the inbox writes). A file that is not YAML
    yields nothing here (Rasa's own validation names the error)."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return
    if not isinstance(root, yaml.MappingNode):
        return
    for key, value in root.value:
        if key.value != "nlu" or not isinstance(value, yaml.SequenceNode):
            continue
        for block in value.value:
            if not isinstance(block, yaml.MappingNode):
                continue
            fields = {k.value: v for k, v in block.value if isinstance(k, yaml.ScalarNode)}
            intent = fields.get("intent")
            examples = fields.get("examples")
            if not isinstance(intent, yaml.ScalarNode) or examples is None:
                continue
            for line, text in _example_lines(examples):
                plain, spans = parse_example(text)
                yield Example(str(path), line, str(intent.value), text, plain, spans)


def _example_lines(node: yaml.Node) -> Iterator[tuple[int, str]]:
    if isinstance(node, yaml.ScalarNode):
        # A literal block: its k-th line is the file's line after the "|".
        first = node.start_mark.line + 2
        for k, raw in enumerate(str(node.value).split("\n")):
            item = raw.strip()
            if item.startswith("- ") and item[2:].strip():
                yield first + k, item[2:].strip()
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            if isinstance(item, yaml.ScalarNode) and str(item.value).strip():
                yield item.start_mark.line + 1, str(item.value).strip()
            elif isinstance(item, yaml.MappingNode):
                for k, v in item.value:
                    if k.value == "text" and isinstance(v, yaml.ScalarNode):
                        if str(v.value).strip():
                            yield item.start_mark.line + 1, str(v.value).strip()


def duplicate_problems(examples: list[Example]) -> list[str]:
    """The same example twice, the same example under two intents, the same
    words annotated as two drivers or roles (first one wins; the later one
    is named)."""
    found: list[str] = []
    seen: dict[str, Example] = {}
    spans: dict[str, tuple[str, str | None, Example]] = {}
    for ex in examples:
        key = ex.key
        if not key:
            continue
        first = seen.setdefault(key, ex)
        if first is not ex:
            if first.intent != ex.intent:
                found.append(
                    f"{ex.where}: this example is also under intent '{first.intent}' "
                    f"at {first.where} (here '{ex.intent}'): keep it under one intent"
                )
            else:
                found.append(f"{ex.where}: the same example as {first.where}: keep one")
        for words_, entity, role in ex.spans:
            if not words_:
                continue
            known = spans.setdefault(words_, (entity, role, ex))
            if (known[0], known[1]) != (entity, role):
                was = f"{known[0]}:{known[1]}" if known[1] else known[0]
                now = f"{entity}:{role}" if role else entity
                found.append(
                    f"{ex.where}: '{words_}' is annotated {now} here but {was} at "
                    f"{known[2].where}: the same words must teach one driver and role"
                )
    return found


def inbox_files(data_dir: Path) -> list[Path]:
    folder = data_dir / INBOX_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.yml") if not p.name.endswith(INBOX_KNOWN_ISSUES_SUFFIX))


def inbox_problems(training: list[Example], inbox: list[Example]) -> list[str]:
    """An inbox line that repeats a training example with another label."""
    by_key: dict[str, Example] = {}
    for ex in training:
        by_key.setdefault(ex.key, ex)
    found = []
    for ex in inbox:
        known = by_key.get(ex.key)
        if known is None:
            continue
        if (known.intent, known.entities) != (ex.intent, ex.entities):
            found.append(
                f"{ex.where}: repeats the training example at {known.where} with another "
                f"label ({ex.label} here, {known.label} there)"
            )
    return found


def training_examples(data_dir: Path) -> list[Example]:
    """Every example of data/nlu, file by file in name order."""
    return [ex for path in sorted((data_dir / "nlu").rglob("*.yml")) for ex in nlu_examples(path)]


def problems(data_dir: Path, domain_path: Path) -> tuple[list[str], str]:
    found: list[str] = []
    try:
        catalogue = drivers.load_catalogue(data_dir / "drivers.yml")
    except TrainerFileError as error:
        return [str(error)], ""
    summary = [f"{len(catalogue)} drivers"]
    for label, load in (
        ("lexicon entries", lambda: lexicon.load(data_dir / "drivers.yml").entries),
        ("known issues", lambda: known_issues.load(data_dir / "known_issues.yml", catalogue)),
        (
            "why-question sets",
            lambda: why_questions.load(data_dir / "why_questions.yml", catalogue).by_driver,
        ),
        ("tips", lambda: tips.load(data_dir / "tips.yml", catalogue)),
    ):
        try:
            summary.append(f"{len(load())} {label}")
        except TrainerFileError as error:
            found.append(str(error))

    # The closed loop: case rules and business hours (cases/, pure Python).
    found.extend(case_rules.problems(data_dir))
    found.extend(sla.problems(data_dir))

    # The survey paths, and the wording of the trainers' own questions.
    paths_file = data_dir / "survey_paths.yml"
    try:
        paths = survey_paths.parse(paths_file)
        responses = set(load_domain(domain_path)["responses"])
        found.extend(survey_paths.check_wording(paths, responses, paths_file))
        summary.append(f"{len(paths.paths)} survey paths")
    except TrainerFileError as error:
        found.append(str(error))

    in_domain = domain_drivers(domain_path)
    where = _entities_file(domain_path)
    for driver_id in catalogue:
        if driver_id not in in_domain:
            found.append(f"{where}: driver '{driver_id}' (data/drivers.yml) is not an entity")
        elif in_domain[driver_id] != ["neg", "pos"]:
            found.append(f"{where}: entity '{driver_id}' needs roles [pos, neg]")
    for name in in_domain:
        if name not in catalogue:
            found.append(f"{where}: entity '{name}' is not a driver in data/drivers.yml")

    held_out = eval_comments(data_dir)
    for path in sorted((data_dir / "nlu").rglob("*.yml")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for name in _ANNOTATED.findall(line):
                if name not in catalogue:
                    found.append(
                        f"{path}:{number}: entity '{name}' is not a driver in data/drivers.yml"
                    )
            example = line.strip()
            if example.startswith("- "):
                key = _key(_MARKUP.sub(r"\1", example[2:]))
                if key and key in held_out:
                    found.append(
                        f"{path}:{number}: this example is a comment of {held_out[key]}, "
                        "which must never be trained on"
                    )
    training = training_examples(data_dir)
    found += duplicate_problems(training)
    inbox = [ex for path in inbox_files(data_dir) for ex in nlu_examples(path)]
    found += inbox_problems(training, inbox)
    summary.append(f"{len(training)} NLU examples")
    if inbox:
        summary.append(f"{len(inbox)} inbox lines")
    return found, ", ".join(summary)


def main() -> int:
    settings = load_settings()
    found, summary = problems(settings.data_dir, settings.domain_path)
    for line in found:
        print(line, file=sys.stderr)
    if found:
        print(f"{len(found)} problem(s) in the trainers' files", file=sys.stderr)
        return 1
    print(f"trainers' files OK: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
