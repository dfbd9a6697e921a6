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

from nps import drivers, known_issues, lexicon, tips, why_questions
from nps.domain import domain_files, load_domain
from nps.settings import load_settings
from nps.trainer_yaml import TrainerFileError

_ANNOTATED = re.compile(r'"entity"\s*:\s*"([^"]+)"')


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

    for path in sorted((data_dir / "nlu").rglob("*.yml")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for name in _ANNOTATED.findall(line):
                if name not in catalogue:
                    found.append(
                        f"{path}:{number}: entity '{name}' is not a driver in data/drivers.yml"
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
