"""Accuracy of nps.score.parse_score on the labelled evaluation set.

    .venv/bin/python -m bench.score_accuracy      # make eval runs it first

A case counts as correct when both the status and the score match the label.
Prints the accuracy overall and per labelled status, the number of answers
that would store a wrong score without asking (the worst miss: a clarifying
question costs a turn, a wrong score stays in the data), then every miss.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter

import yaml

from nps.score import OK, STATUSES, parse_score

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEFAULT_SET = os.path.join(REPO_ROOT, "data", "eval", "score_answers.yml")


def load(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        answers = yaml.safe_load(f)["answers"]
    for a in answers:
        if a["status"] not in STATUSES:
            raise ValueError(f"unknown status {a['status']!r} for {a['text']!r}")
        if (a["status"] == "ok") != (a.get("score") is not None):
            raise ValueError(f"score must be set exactly when status is ok: {a!r}")
    return answers


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.score_accuracy", description=__doc__.splitlines()[0]
    )
    ap.add_argument("path", nargs="?", default=DEFAULT_SET, help="labelled YAML set")
    args = ap.parse_args(argv)

    answers = load(args.path)
    total, right = Counter(), Counter()
    misses = []
    silent = 0  # a score stored where the label says otherwise
    for a in answers:
        got = parse_score(a["text"])
        expected = (a["status"], a.get("score"))
        total[a["status"]] += 1
        if (got.status, got.score) == expected:
            right[a["status"]] += 1
        else:
            misses.append((a, got))
            silent += got.status == OK

    n, k = sum(total.values()), sum(right.values())
    print(
        f"score parsing accuracy: {k}/{n} = {k / n:.1%}  ({os.path.relpath(args.path, REPO_ROOT)})"
    )
    for status in STATUSES:
        if total[status]:
            print(
                f"  {status:<13} {right[status]:>3}/{total[status]:<3} = {right[status] / total[status]:.1%}"
            )
    print(f"wrong scores stored without asking: {silent}")
    if misses:
        print(f"\nmisses ({len(misses)}):")
        for a, got in misses:
            want = f"{a['status']} {a.get('score')}" if a["status"] == "ok" else a["status"]
            have = f"{got.status} {got.score}" if got.status == "ok" else got.status
            print(f"  {a['text']!r}: expected {want}, got {have}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
