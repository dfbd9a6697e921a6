"""Rasa's domain read as plain YAML, for code that must know its names
without importing Rasa (analytics, the generator, the checks, the tests).

The domain is a file or a folder of files (Rasa 3 merges every YAML file in
a domain folder); `load_domain` merges them the same way for the keys we
read: lists are concatenated, mappings are updated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_KEYS = ("intents", "entities", "slots", "forms", "actions", "responses")


def domain_files(path: Path) -> list[Path]:
    """The YAML files of a domain, in a stable order."""
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml"))
    return [path]


def load_domain(path: Path) -> dict[str, Any]:
    """The merged domain: {intents, entities, slots, forms, actions, responses}."""
    merged: dict[str, Any] = {
        "intents": [],
        "entities": [],
        "slots": {},
        "forms": {},
        "actions": [],
        "responses": {},
    }
    for file in domain_files(path):
        part = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        for key in _KEYS:
            value = part.get(key)
            if value is None:
                continue
            if isinstance(merged[key], list):
                merged[key].extend(value)
            else:
                merged[key].update(value)
    return merged


def names(domain: dict[str, Any], key: str) -> set[str]:
    """The names under `key`; list entries may be plain names or one-key
    mappings (`- price: {roles: [pos, neg]}`)."""
    value = domain.get(key) or []
    if isinstance(value, dict):
        return set(value)
    found = set()
    for entry in value:
        found.update(entry if isinstance(entry, dict) else [entry])
    return found
