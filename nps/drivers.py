"""The driver catalogue and turning NLU entities into ``driver:polarity`` tags.

A driver is a reason customers give (price, delivery, staff...). The NLU
model tags each mention as an entity whose type is the driver id and whose
role is the polarity, so one comment can yield several tags:
"miła obsługa, ale drogo" -> ["staff:pos", "price:neg"].
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from nps import trainer_yaml
from nps.trainer_yaml import TrainerFileError

POSITIVE = "pos"
NEGATIVE = "neg"
POLARITIES = (POSITIVE, NEGATIVE)
_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Driver:
    id: str
    label: str
    covers: str = ""


def load_catalogue(path: Path | str) -> dict[str, Driver]:
    """Read data/drivers.yml; raise TrainerFileError naming file and line."""
    data = trainer_yaml.load(path)
    catalogue: dict[str, Driver] = {}
    for item in trainer_yaml.require_list(path, data, "drivers"):
        if not isinstance(item, dict):
            raise TrainerFileError(path, None, f"each driver must be a mapping, got {item!r}")
        driver_id = trainer_yaml.require_text(path, item, "id", "driver")
        label = f"driver '{driver_id}'"
        if not _ID.match(driver_id):
            raise TrainerFileError(
                path,
                trainer_yaml.line_of(item),
                f"{label}: ids use lower-case letters, digits and '_' only",
            )
        if driver_id in catalogue:
            raise TrainerFileError(path, trainer_yaml.line_of(item), f"{label} is listed twice")
        catalogue[driver_id] = Driver(
            id=driver_id,
            label=trainer_yaml.require_text(path, item, "label", label),
            covers=str(item.get("covers") or "").strip(),
        )
    if not catalogue:
        raise TrainerFileError(path, None, "no drivers are defined")
    return catalogue


def tag(driver_id: str, polarity: str) -> str:
    return f"{driver_id}:{polarity}"


def split_tag(value: str) -> tuple[str, str]:
    driver_id, _, polarity = value.partition(":")
    return driver_id, polarity


def drivers_from_entities(
    entities: Iterable[Mapping],
    known_ids: Iterable[str],
    default_polarity: str,
) -> list[str]:
    """Tags for the driver entities of one message, in order, without repeats.

    Entities of other types (such as ``touchpoint``) are ignored. When the
    model found a driver but not its role, the polarity comes from the
    question being answered (``default_polarity``): a why-question is about
    a problem, "what do you value most" about something good.
    """
    known = set(known_ids)
    tags: list[str] = []
    for entity in entities or ():
        driver_id = entity.get("entity")
        if driver_id not in known:
            continue
        polarity = entity.get("role")
        if polarity not in POLARITIES:
            polarity = default_polarity
        value = tag(driver_id, polarity)
        if value not in tags:
            tags.append(value)
    return tags


def merge(existing: Sequence[str] | None, new: Iterable[str]) -> list[str]:
    """The accumulated list: earlier tags first, each tag once."""
    merged = list(existing or [])
    for value in new:
        if value not in merged:
            merged.append(value)
    return merged


def main_negative(tags: Sequence[str] | None) -> str | None:
    """The driver the why-questions probe: the first one mentioned negatively."""
    for value in tags or ():
        driver_id, polarity = split_tag(value)
        if polarity == NEGATIVE:
            return driver_id
    return None
