"""``python -m nps.check``: check the trainers' files before training or serving.

Rasa's own ``rasa data validate`` checks NLU, stories and the domain; this
checks what Rasa does not know about: the driver catalogue and its lexicon,
known issues, why-questions and tips, and that drivers, domain entities and NLU examples
name the same drivers. Each problem is one line naming the file (and line).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from nps import drivers, known_issues, lexicon, tips, why_questions
from nps.domain import domain_files, load_domain
from nps.settings import load_settings
from nps.text import words
from nps.trainer_yaml import TrainerFileError

_ANNOTATED = re.compile(r'"entity"\s*:\s*"([^"]+)"')
# "[kurier zgubił]{"entity": ...} paczkę" -> "kurier zgubił paczkę"
_MARKUP = re.compile(r"\[([^\]]*)\](?:\{[^}]*\}|\([^)]*\))")
# The evaluation files: their comments must never be trained on, or their
# scores stop meaning anything (make eval, make eval-dev).
EVAL_FILES = ("comments.yml", "dev_comments.yml")


def _key(text: str) -> str:
    """A comment as the check compares it: folded words, punctuation dropped."""
    return " ".join(words(text))


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


def domain_drivers(domain_path: Path) -> dict[str, list]:
    domain = load_domain(domain_path)
    found = {}
    for item in domain["entities"]:
        name, spec = (item, {}) if isinstance(item, str) else next(iter(item.items()))
        if name != "touchpoint":
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
