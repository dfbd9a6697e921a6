"""Tips for promoters: something useful they may not know, per driver.

data/tips.yml maps a driver id to one short tip. A promoter who praised a
driver gets the tip for it, if there is one.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from pathlib import Path

from nps import trainer_yaml
from nps.drivers import POSITIVE, split_tag
from nps.trainer_yaml import TrainerFileError


def load(path: Path | str, driver_ids: Container[str]) -> dict[str, str]:
    data = trainer_yaml.load(path)
    tips = data.get("tips")
    line = trainer_yaml.line_of(tips) or trainer_yaml.line_of(data)
    if not isinstance(tips, dict):
        raise TrainerFileError(path, line, "top-level key 'tips:' must map driver ids to text")
    result = {}
    for driver_id, text in tips.items():
        if driver_id == trainer_yaml.LINE:
            continue
        if driver_id not in driver_ids:
            raise TrainerFileError(path, line, f"driver '{driver_id}' is not in data/drivers.yml")
        if not isinstance(text, str) or not text.strip():
            raise TrainerFileError(path, line, f"the tip for '{driver_id}' is empty")
        result[driver_id] = " ".join(text.split())
    return result


def tip_for(tags: Sequence[str] | None, tips: dict[str, str]) -> str | None:
    """The tip for the first driver the customer praised, if any."""
    for value in tags or ():
        driver_id, polarity = split_tag(value)
        if polarity == POSITIVE and driver_id in tips:
            return tips[driver_id]
    return None
