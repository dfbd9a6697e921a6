"""The bare baseline of the REST benchmark: what Rasa alone costs.

A model with the very same NLU pipeline (config.yml) and training data
(data/nlu), but a tiny domain (the intents and entities of data/nlu, three
responses), one rule per intent and no custom action: one NLU parse and one
policy round per message, nothing else. Trained on first use and cached in
var/bench/rest_load/ under a hash of its inputs, so it is retrained only when
the Rasa version, the pipeline or an NLU file changes.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from bench.rasa_cli import RASA, rasa_env, rasa_version
from tests.bot_process import REPO

# var/bench/ is shared with other benchmarks: ours go in a folder of their own.
CACHE_DIR = REPO / "var" / "bench" / "rest_load"


_ENTITY_JSON = re.compile(r"\]\{(\"[^}]*)\}")
_ENTITY_PAREN = re.compile(r"\]\(([^)]+)\)")


def nlu_inventory(nlu_dir: Path) -> tuple[list[str], dict[str, set[str]]]:
    """Intents, and entities with their roles, named in the NLU training files."""
    intents: list[str] = []
    entities: dict[str, set[str]] = {}
    for path in sorted(nlu_dir.rglob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if "intent" not in item:
                continue  # synonyms, regexes, lookups
            if item["intent"] not in intents:
                intents.append(item["intent"])
            examples = item.get("examples") or ""
            for raw in _ENTITY_JSON.findall(examples):
                spec = json.loads("{" + raw + "}")
                roles = entities.setdefault(spec["entity"], set())
                if spec.get("role"):
                    roles.add(spec["role"])
            for raw in _ENTITY_PAREN.findall(examples):
                entities.setdefault(raw.split(":")[0].strip(), set())
    return intents, entities


def _dump(data: object) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def bare_project(config_path: Path, nlu_dir: Path) -> dict[str, str]:
    """config.yml, domain.yml and rules.yml of the bare bot, as texts."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    intents, entities = nlu_inventory(nlu_dir)
    bare_config = {
        key: config[key] for key in ("recipe", "assistant_id", "language") if key in config
    }
    bare_config["pipeline"] = config["pipeline"]  # the very same NLU
    # Rules only, answered by Rasa's own default fallback: nothing custom.
    bare_config["policies"] = [
        {"name": "MemoizationPolicy", "max_history": 5},
        {
            "name": "RulePolicy",
            "core_fallback_threshold": 0.3,
            "core_fallback_action_name": "action_default_fallback",
        },
    ]
    domain = {
        "version": "3.1",
        "intents": intents,
        "entities": [
            {name: {"roles": sorted(roles)}} if roles else name
            for name, roles in sorted(entities.items())
        ],
        "responses": {
            "utter_greet": [{"text": "Cześć! Jak oceniasz nasz sklep od 0 do 10?"}],
            "utter_ok": [{"text": "Dziękuję, zapisałem."}],
            "utter_default": [{"text": "Przepraszam, nie zrozumiałem."}],
        },
    }
    # One utterance per message, whatever the intent: the bare bot does one
    # NLU parse and one policy round per message, and nothing else.
    rules = [{"rule": "greeting", "steps": [{"intent": "greet"}, {"action": "utter_greet"}]}]
    rules += [
        {"rule": f"any {intent}", "steps": [{"intent": intent}, {"action": "utter_ok"}]}
        for intent in [*intents, "nlu_fallback"]
        if intent != "greet"
    ]
    return {
        "config.yml": _dump(bare_config),
        "domain.yml": _dump(domain),
        "rules.yml": _dump({"version": "3.1", "rules": rules}),
    }


def bare_model(config_path: Path, nlu_dir: Path, train_timeout: float) -> Path:
    """The bare model, trained once per distinct input and cached in ``CACHE_DIR``."""
    files = bare_project(config_path, nlu_dir)
    digest = hashlib.sha256(f"rasa {rasa_version()}\n".encode())
    for name, text in sorted(files.items()):
        digest.update(f"{name}\n{text}\n".encode())
    for path in sorted(nlu_dir.rglob("*.yml")):
        digest.update(f"{path.relative_to(nlu_dir)}\n".encode() + path.read_bytes())
    key = digest.hexdigest()[:16]
    cached = CACHE_DIR / f"bare-{key}.tar.gz"
    if cached.exists():
        print(f"bare model: cached {cached.relative_to(REPO)}")
        return cached
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    print(f"bare model: training (inputs hash {key}); later runs reuse it")
    with tempfile.TemporaryDirectory(prefix="nps-bare-") as tmp:
        tmp_path = Path(tmp)
        for name, text in files.items():
            (tmp_path / name).write_text(text, encoding="utf-8")
        env = rasa_env(tmp_path / "cache")  # its own empty cache
        started = time.monotonic()
        with open(tmp_path / "train.log", "wb") as log:
            completed = subprocess.run(
                [
                    str(RASA),
                    "train",
                    "--config",
                    "config.yml",
                    "--domain",
                    "domain.yml",
                    "--data",
                    str(nlu_dir),
                    "rules.yml",
                    "--out",
                    "out",
                    "--fixed-model-name",
                    "bare",
                ],
                cwd=tmp_path,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=train_timeout,
            )
        if completed.returncode != 0:
            tail = (tmp_path / "train.log").read_text(errors="replace").splitlines()[-30:]
            raise RuntimeError("training the bare model failed:\n" + "\n".join(tail))
        for old in CACHE_DIR.glob("bare-*.tar.gz"):
            old.unlink()  # inputs changed: the old one will never be used again
        shutil.move(str(tmp_path / "out" / "bare.tar.gz"), cached)
        print(
            f"bare model: trained in {time.monotonic() - started:.0f} s -> {cached.relative_to(REPO)}"
        )
    return cached
