"""Drivers found in comments the bot never saw: data/eval/comments.yml.

    make eval                                    # with score parsing and cross-validation
    .venv/bin/python -m bench.driver_eval        # the trained model (models/nps-bot.tar.gz)
    .venv/bin/python -m bench.driver_eval --train config.yml   # train NLU afresh first
    .venv/bin/python -m bench.driver_eval --errors             # also list every wrong comment

The file is written apart from the training data and is never trained on
(tests/test_eval_comments.py keeps its coverage; nps.check refuses a
training example that repeats one of its comments). Each comment is parsed
by the model in-process, then turned into ``driver:polarity`` tags exactly
as the bot does (``nps.understanding``: the model's entities, the trainers'
lexicon in data/drivers.yml, the polarity decided by the words first and by
the question only when the words are neutral). The question is the one the
comment answers: a promoter is asked what they liked, anyone else what went
wrong.

Printed: micro-F1 of drivers and of driver:polarity over all comments, over
the comments naming two or more drivers, and per tag of the file (typos,
reviews...); per-driver precision, recall and F1; which source decided each
tag (model, lexicon, both); and the same figures for the model alone and
the lexicon alone, to show what each part brings. Then the change of each
driver's F1 since the previous run on the same file ("before and after",
e.g. around a retraining): every run keeps its per-driver figures in
var/eval/last_<file>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.driver_scores import Scores, counts, drivers_only, micro, per_driver
from bench.rasa_cli import train_nlu
from bench.tables import markdown_table
from nps import drivers, understanding
from nps.groups import PROMOTER
from nps.settings import load_settings
from tests.bot_process import REPO

DEFAULT_FILE = REPO / "data" / "eval" / "comments.yml"
DEFAULT_MODEL = REPO / "models" / "nps-bot.tar.gz"
# The last run's per-driver figures, one file per evaluation file.
LAST_RUN_DIR = REPO / "var" / "eval"
# The goals for this file.
GOAL_ALL = 0.85
GOAL_MULTI = 0.80
BOT = "bot (model + lexicon)"


@dataclass(frozen=True)
class Comment:
    text: str
    gold: frozenset[str]
    context: str | None
    tags: frozenset[str]

    @property
    def multi(self) -> bool:
        return len(drivers_only(self.gold)) >= 2


def load_comments(path: Path) -> list[Comment]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    comments = []
    for item in data.get("comments") or []:
        comments.append(
            Comment(
                text=str(item["text"]),
                gold=frozenset(item.get("drivers") or []),
                context=item.get("context"),
                tags=frozenset(item.get("tags") or []),
            )
        )
    if not comments:
        raise SystemExit(f"{path}: no comments")
    return comments


def context_polarity(group: str | None) -> str:
    """The question the comment answers: praise for promoters, a problem otherwise
    (the bot asks the reason this way: actions/survey_form.py)."""
    return drivers.POSITIVE if group == PROMOTER else drivers.NEGATIVE


# --- parsing -----------------------------------------------------------------------


def parse_all(model: Path, texts: Sequence[str]) -> list[list[dict]]:
    """The model's entities for every text, parsed in-process."""
    from rasa.core.agent import Agent  # bot environment only, and slow to import
    from rasa.utils.log_utils import configure_structlog

    # Rasa logs every parsed text at debug level: comments stay out of the output.
    configure_structlog(logging.WARNING)
    logging.getLogger("rasa").setLevel(logging.WARNING)
    agent = Agent.load(str(model))

    async def parse() -> list[list[dict]]:
        return [list((await agent.parse_message(t)).get("entities") or []) for t in texts]

    return asyncio.run(parse())


# --- scoring -------------------------------------------------------------------------


def bot_findings(comment: Comment, entities: list[dict], und: understanding.Understanding):
    """What the bot stores for this comment (nps.understanding), with each tag's source."""
    return understanding.find_drivers(
        comment.text, entities, und, context_polarity(comment.context)
    )


def taggers(und: understanding.Understanding) -> dict[str, Callable[[Comment, list[dict]], set]]:
    """The bot's way; the model's entities as the bot read them before the lexicon
    (nps.drivers.drivers_from_entities); and the lexicon without the model."""
    return {
        BOT: lambda c, ents: set(understanding.tags(bot_findings(c, ents, und))),
        "model alone": lambda c, ents: set(
            drivers.drivers_from_entities(ents, und.catalogue, context_polarity(c.context))
        ),
        "lexicon alone": lambda c, ents: set(understanding.tags(bot_findings(c, [], und))),
    }


def f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def score_pair(gold: list[set[str]], pred: list[set[str]]) -> tuple[Scores, Scores]:
    """(drivers, drivers with polarity) micro scores."""
    with_polarity = micro(counts(gold, pred))
    plain = micro(counts([drivers_only(g) for g in gold], [drivers_only(p) for p in pred]))
    return plain, with_polarity


def report(
    comments: list[Comment],
    entities: list[list[dict]],
    und: understanding.Understanding,
    show_errors: bool,
) -> dict[str, float | None]:
    catalogue = list(und.catalogue)
    gold = [set(c.gold) for c in comments]
    predicted = {
        name: [tagger(c, ents) for c, ents in zip(comments, entities, strict=True)]
        for name, tagger in taggers(und).items()
    }
    bot = BOT

    subsets: list[tuple[str, list[int]]] = [
        ("all comments", list(range(len(comments)))),
        ("two or more drivers", [i for i, c in enumerate(comments) if c.multi]),
    ]
    for tag in sorted({t for c in comments for t in c.tags}):
        subsets.append((f"tag: {tag}", [i for i, c in enumerate(comments) if tag in c.tags]))

    print(f"\n## Micro-F1 on {len(comments)} comments never trained on\n")
    rows = []
    headline: dict[str, float | None] = {}
    for label, idx in subsets:
        row = [label, str(len(idx))]
        for name in predicted:
            plain, polar = score_pair([gold[i] for i in idx], [predicted[name][i] for i in idx])
            row += [f(plain.f1), f(polar.f1)]
            if name == bot and label in ("all comments", "two or more drivers"):
                headline[label] = polar.f1
        rows.append(row)
    header = ["comments", "n"]
    for name in predicted:
        header += [f"{name}: driver", "driver:polarity"]
    print(markdown_table(header, rows))

    print(f"\n## Per driver ({bot})\n")
    figures: dict[str, dict[str, float | None]] = {}
    by_label = counts(gold, predicted[bot])
    plain_by = counts([drivers_only(g) for g in gold], [drivers_only(p) for p in predicted[bot]])
    rows = []
    for driver in catalogue:
        d = per_driver(plain_by, [driver])[driver]
        polar = per_driver(by_label, [driver])[driver]
        figures[driver] = {"f1": d.f1, "f1_polarity": polar.f1}
        rows.append(
            [
                driver,
                str(d.tp + d.fn),
                f(d.precision),
                f(d.recall),
                f(d.f1),
                f(polar.precision),
                f(polar.recall),
                f(polar.f1),
            ]
        )
    print(
        markdown_table(
            ["driver", "gold", "P", "R", "F1", "P (with polarity)", "R (pol.)", "F1 (pol.)"],
            rows,
        )
    )

    print(f"\n## Who found each tag, and who decided its polarity ({bot})\n")
    found_by: Counter = Counter()
    polarity_by: Counter = Counter()
    right_found: Counter = Counter()
    right_polarity: Counter = Counter()
    for c, ents in zip(comments, entities, strict=True):
        seen = set()
        for finding in bot_findings(c, ents, und):
            t = drivers.tag(finding.driver, finding.polarity)
            if t in seen:
                continue
            seen.add(t)
            found_by[finding.source] += 1
            polarity_by[finding.polarity_from] += 1
            if t in c.gold:
                right_found[finding.source] += 1
                right_polarity[finding.polarity_from] += 1
    rows = []
    for what, decided, right in (
        ("driver found by", found_by, right_found),
        ("polarity decided by", polarity_by, right_polarity),
    ):
        total = sum(decided.values()) or 1
        rows += [
            [what, source, str(n), f"{n / total:.0%}", f"{right[source] / n:.0%}"]
            for source, n in decided.most_common()
        ]
    print(markdown_table(["", "source", "tags", "share", "right"], rows))

    if show_errors:
        print(f"\n## Comments where {bot} differs from the gold tags\n")
        for c, p in zip(comments, predicted[bot], strict=True):
            if p != set(c.gold):
                missing = ", ".join(sorted(set(c.gold) - p)) or "-"
                extra = ", ".join(sorted(p - set(c.gold))) or "-"
                print(f"- {c.text}\n  missing: {missing}; extra: {extra}")

    print(
        f"\nGoals: driver:polarity micro-F1 >= {GOAL_ALL} on all comments "
        f"({f(headline.get('all comments'))}), >= {GOAL_MULTI} on comments naming two or "
        f"more drivers ({f(headline.get('two or more drivers'))})."
    )
    headline["per_driver"] = figures  # type: ignore[assignment]
    return headline


def _change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return "-"
    return f"{now - before:+.3f}"


def compare_with_last(figures: dict, last_path: Path, label: str) -> None:
    """Print each driver's F1 now against the previous run's, then keep these."""
    try:
        last = json.loads(last_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        last = None
    print(f"\n## Per driver F1: before and after ({label})\n")
    if not isinstance(last, dict) or not isinstance(last.get("per_driver"), dict):
        print(f"No earlier run kept ({last_path}): the next run compares with this one.")
    else:
        old = last["per_driver"]
        rows = []
        for driver, now in figures["per_driver"].items():
            before = old.get(driver) or {}
            rows.append(
                [
                    driver,
                    f(before.get("f1")),
                    f(now["f1"]),
                    _change(now["f1"], before.get("f1")),
                    f(before.get("f1_polarity")),
                    f(now["f1_polarity"]),
                    _change(now["f1_polarity"], before.get("f1_polarity")),
                ]
            )
        for name in ("all comments", "two or more drivers"):
            rows.append(
                [
                    f"({name}, micro)",
                    "",
                    "",
                    "",
                    f(last.get(name)),
                    f(figures.get(name)),
                    _change(figures.get(name), last.get(name)),
                ]
            )
        print(f"Before: the run of {last.get('at', '?')} (model {last.get('model', '?')}).\n")
        print(
            markdown_table(
                [
                    "driver",
                    "F1 before",
                    "F1 after",
                    "change",
                    "F1 (pol.) before",
                    "after",
                    "change",
                ],
                rows,
            )
        )
    last_path.parent.mkdir(parents=True, exist_ok=True)
    last_path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.driver_eval", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument(
        "--train",
        type=Path,
        metavar="CONFIG",
        help="train an NLU model with this config on data/nlu first (into a temporary folder)",
    )
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--errors", action="store_true", help="list every wrong comment")
    args = parser.parse_args(argv)

    comments = load_comments(args.file)
    und = understanding.load(load_settings().data_dir)
    tmp = Path(tempfile.mkdtemp(prefix="nps-driver-eval-"))
    try:
        model = args.model
        if args.train:
            model, _, seconds = train_nlu(args.train, tmp, args.timeout)
            print(f"trained NLU with {args.train} in {seconds:.0f} s")
        elif not model.exists():
            raise SystemExit(f"{model}: no model; run `make train` first, or pass --train")
        started = time.monotonic()
        entities = parse_all(model, [c.text for c in comments])
        print(f"parsed {len(comments)} comments in {time.monotonic() - started:.1f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    figures = report(comments, entities, und, args.errors)
    figures["at"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())  # type: ignore[assignment]
    figures["model"] = str(args.train or model)  # type: ignore[assignment]
    compare_with_last(figures, LAST_RUN_DIR / f"last_{args.file.stem}.json", args.file.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
