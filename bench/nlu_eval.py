"""NLU cross-validation: intents, and the driver entities with their polarity roles.

    make eval                                   # after bench.score_accuracy
    .venv/bin/python -m bench.nlu_eval --folds 3
    .venv/bin/python -m bench.nlu_eval --folds 2 --epochs 20   # quick, less accurate
    .venv/bin/python -m bench.nlu_eval --report-only           # re-read results/nlu_cv/

Runs ``rasa test nlu --cross-validation`` with config.yml on data/nlu (each
fold trains on the other folds and is tested on the held-out one) into
results/nlu_cv/, then reads what Rasa wrote there:

  intent_report.json             per intent and overall: accuracy, macro F1
  DIETClassifier_report.json     Rasa's own entity metrics. They are per
                                 *token* and per label "entity.role", i.e.
                                 "delivery.neg": a right driver with the wrong
                                 polarity counts as a miss of both labels.
  DIETClassifier_errors.json,    every held-out message with an entity, with
  DIETClassifier_successes.json  its gold and predicted entities (spans).

From the last two this script scores whole mentions, which is what the bot
uses (nps.drivers turns each entity into one "driver:polarity" tag): a gold
mention counts as found when a predicted entity of the same driver overlaps
its characters. Per driver it prints precision / recall / F1 ignoring the
role, the share of found mentions whose polarity is right, and per
driver:role precision / recall / F1 (type and role must both match).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from bench.rasa_cli import RASA, rasa_env
from bench.tables import markdown_table
from nps.drivers import load_catalogue
from nps.settings import load_settings
from nps_nlu import is_diet
from tests.bot_process import REPO

DEFAULT_OUT = REPO / "results" / "nlu_cv"
EXTRACTOR = "DIETClassifier"


# --- running Rasa ----------------------------------------------------------------


def config_with_epochs(config_path: Path, epochs: int, tmp: Path) -> Path:
    """A temporary copy of the config with DIET's epochs replaced."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    found = False
    for component in config.get("pipeline") or []:
        if is_diet(component.get("name")):
            component["epochs"] = epochs
            found = True
    if not found:
        raise SystemExit(f"{config_path}: no DIETClassifier in the pipeline to set epochs on")
    path = tmp / "config.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run_cross_validation(
    config: Path, nlu: Path, folds: int, out: Path, tmp: Path, timeout: float
) -> float:
    """``rasa test nlu --cross-validation``; returns the seconds it took."""
    if out.exists():
        shutil.rmtree(out)  # a report left from an earlier run must not be read as this one's
    out.parent.mkdir(parents=True, exist_ok=True)
    # Fold models are throw-away: keep them out of the project's .rasa/cache.
    env = rasa_env(tmp / "cache")
    command = [
        str(RASA),
        "test",
        "nlu",
        "--nlu",
        str(nlu),
        "--config",
        str(config),
        "--cross-validation",
        "--folds",
        str(folds),
        "--out",
        str(out),
        "--successes",
        "--no-plot",
    ]
    print(
        "$ " + " ".join(shown(Path(c)) if c.startswith(str(REPO)) else c for c in command),
        flush=True,
    )
    log_path = tmp / "rasa-test.log"
    started = time.monotonic()
    with open(log_path, "wb") as log:
        completed = subprocess.run(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout
        )
    elapsed = time.monotonic() - started
    if completed.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-40:]
        raise SystemExit("rasa test nlu failed:\n" + "\n".join(tail))
    shutil.copy(log_path, out / "rasa-test.log")
    return elapsed


# --- reading the reports ----------------------------------------------------------------


def shown(path: Path) -> str:
    """A path relative to the repository when inside it."""
    path = path.resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def read_json(path: Path):
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def held_out_messages(out: Path) -> list[dict]:
    """Every held-out message that has a gold or predicted entity, once.

    Rasa writes a message to *_errors.json when any token's label is wrong and
    to *_successes.json when any token's label is right, so a half-right
    message is in both. Entries with the same text, gold and predictions are
    scored the same way, so the count of such a message is the larger of its
    counts in the two files.
    """
    counts: dict[str, Counter] = {}
    entries: dict[str, dict] = {}
    for name in ("errors", "successes"):
        counts[name] = Counter()
        for entry in read_json(out / f"{EXTRACTOR}_{name}.json") or []:
            key = json.dumps(entry, sort_keys=True, ensure_ascii=False)
            counts[name][key] += 1
            entries[key] = entry
    return [
        entries[key]
        for key in entries
        for _ in range(max(counts["errors"][key], counts["successes"][key]))
    ]


def _overlap(a: dict, b: dict) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def score_mentions(messages: list[dict], drivers: list[str]) -> dict:
    """Mention-level counts per driver (role ignored) and per driver:role."""
    driver_set = set(drivers)
    by_driver = defaultdict(Counter)  # tp, fp, fn, polarity_right, polarity_checked
    by_role = defaultdict(Counter)
    for message in messages:
        gold = [e for e in message.get("entities") or [] if e.get("entity") in driver_set]
        pred = [
            e
            for e in message.get("predicted_entities") or []
            if e.get("entity") in driver_set and e.get("extractor", EXTRACTOR) == EXTRACTOR
        ]
        for g in gold:
            same_driver = [p for p in pred if p["entity"] == g["entity"] and _overlap(g, p)]
            if same_driver:
                by_driver[g["entity"]]["tp"] += 1
                by_driver[g["entity"]]["polarity_checked"] += 1
                # the prediction that shares the most characters decides the polarity
                best = max(
                    same_driver, key=lambda p: min(g["end"], p["end"]) - max(g["start"], p["start"])
                )
                if best.get("role") == g.get("role"):
                    by_driver[g["entity"]]["polarity_right"] += 1
            else:
                by_driver[g["entity"]]["fn"] += 1
            label = f"{g['entity']}:{g.get('role')}"
            if any(
                p["entity"] == g["entity"] and p.get("role") == g.get("role") and _overlap(g, p)
                for p in pred
            ):
                by_role[label]["tp"] += 1
            else:
                by_role[label]["fn"] += 1
        for p in pred:
            if not any(g["entity"] == p["entity"] and _overlap(g, p) for g in gold):
                by_driver[p["entity"]]["fp"] += 1
            label = f"{p['entity']}:{p.get('role')}"
            if not any(
                g["entity"] == p["entity"] and g.get("role") == p.get("role") and _overlap(g, p)
                for g in gold
            ):
                by_role[label]["fp"] += 1
    return {"driver": by_driver, "role": by_role}


def prf(c: Counter) -> tuple[float, float, float]:
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = (
        2 * precision * recall / (precision + recall)
        if tp and precision + recall
        else (0.0 if tp + fp + fn else float("nan"))
    )
    return precision, recall, f1


def pct(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.1%}"


def report(out: Path, drivers: list[str]) -> int:
    intents = read_json(out / "intent_report.json")
    if intents is None:
        print(f"no intent_report.json in {out}: run without --report-only first", file=sys.stderr)
        return 2

    print("\n## Intents (held-out folds)\n")
    print(
        markdown_table(
            ["metric", "value"],
            [
                ["accuracy", pct(intents.get("accuracy"))],
                ["macro F1", pct(intents.get("macro avg", {}).get("f1-score"))],
                ["weighted F1", pct(intents.get("weighted avg", {}).get("f1-score"))],
                ["messages", str(intents.get("macro avg", {}).get("support", "-"))],
            ],
        )
    )
    rows = []
    for name, m in sorted(intents.items()):
        if not isinstance(m, dict) or name.endswith(" avg"):
            continue
        confused = ", ".join(
            f"{k} {v}" for k, v in list((m.get("confused_with") or {}).items())[:2]
        )
        rows.append(
            [
                name,
                str(m.get("support")),
                pct(m.get("precision")),
                pct(m.get("recall")),
                pct(m.get("f1-score")),
                confused,
            ]
        )
    print()
    print(markdown_table(["intent", "n", "precision", "recall", "F1", "most confused with"], rows))

    messages = held_out_messages(out)
    scores = score_mentions(messages, drivers)
    print("\n## Drivers: mentions found (role ignored) and their polarity\n")
    rows = []
    total = Counter()
    f1s = []
    for d in drivers:
        c = scores["driver"][d]
        total.update(c)
        p, r, f = prf(c)
        if f == f:
            f1s.append(f)
        polarity = c["polarity_right"] / c["polarity_checked"] if c["polarity_checked"] else None
        rows.append([d, str(c["tp"] + c["fn"]), pct(p), pct(r), pct(f), pct(polarity)])
    p, r, f = prf(total)
    polarity = (
        total["polarity_right"] / total["polarity_checked"] if total["polarity_checked"] else None
    )
    rows.append(
        ["**all (micro)**", str(total["tp"] + total["fn"]), pct(p), pct(r), pct(f), pct(polarity)]
    )
    rows.append(["**macro F1**", "", "", "", pct(sum(f1s) / len(f1s) if f1s else None), ""])
    print(
        markdown_table(["driver", "mentions", "precision", "recall", "F1", "polarity right"], rows)
    )

    print("\n## Drivers with polarity: driver:role must both match (mention level)\n")
    rows = []
    total = Counter()
    for d in drivers:
        for role in ("pos", "neg"):
            c = scores["role"][f"{d}:{role}"]
            total.update(c)
            p, r, f = prf(c)
            rows.append([f"{d}:{role}", str(c["tp"] + c["fn"]), pct(p), pct(r), pct(f)])
    p, r, f = prf(total)
    rows.append(["**all (micro)**", str(total["tp"] + total["fn"]), pct(p), pct(r), pct(f)])
    print(markdown_table(["driver:role", "mentions", "precision", "recall", "F1"], rows))

    diet = read_json(out / f"{EXTRACTOR}_report.json") or {}
    print("\n## Rasa's own entity report (token level, label = entity.role)\n")
    rows = []
    for d in drivers:
        for role in ("pos", "neg"):
            m = diet.get(f"{d}.{role}")
            if m:
                rows.append(
                    [
                        f"{d}.{role}",
                        str(m.get("support")),
                        pct(m.get("precision")),
                        pct(m.get("recall")),
                        pct(m.get("f1-score")),
                    ]
                )
    for name in ("micro avg", "macro avg", "weighted avg"):
        m = diet.get(name)
        if m:
            rows.append(
                [
                    f"**{name}**",
                    str(m.get("support")),
                    pct(m.get("precision")),
                    pct(m.get("recall")),
                    pct(m.get("f1-score")),
                ]
            )
    print(markdown_table(["label", "tokens", "precision", "recall", "F1"], rows))
    print(
        f"\n(mention-level figures from {len(messages)} held-out messages with entities; "
        f"reports in {shown(out)}/)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.nlu_eval", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--folds", type=int, default=3, help="cross-validation folds (default 3)")
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="DIET epochs for this evaluation (default: config.yml's own)",
    )
    parser.add_argument("--config", type=Path, default=REPO / "config.yml")
    parser.add_argument("--nlu", type=Path, default=REPO / "data" / "nlu")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--timeout", type=float, default=3600, help="give up on rasa test after this many seconds"
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="do not run Rasa; read the reports already in --out",
    )
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error("--folds must be at least 2")

    drivers = list(load_catalogue(load_settings().data_dir / "drivers.yml"))
    if not args.report_only:
        with tempfile.TemporaryDirectory(prefix="nps-nlu-eval-") as tmp:
            tmp_path = Path(tmp)
            config = args.config
            if args.epochs is not None:
                config = config_with_epochs(args.config, args.epochs, tmp_path)
            epochs = next(
                (
                    c.get("epochs")
                    for c in yaml.safe_load(config.read_text(encoding="utf-8"))["pipeline"]
                    if is_diet(c.get("name"))
                ),
                None,
            )
            print(
                f"NLU cross-validation: {args.folds} folds, DIET epochs {epochs}, "
                f"data {shown(args.nlu)}"
            )
            seconds = run_cross_validation(
                config, args.nlu, args.folds, args.out, tmp_path, args.timeout
            )
            print(f"rasa test nlu took {seconds:.0f} s")
    return report(args.out, drivers)


if __name__ == "__main__":
    sys.exit(main())
