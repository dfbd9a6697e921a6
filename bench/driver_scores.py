"""Comment-level scores of driver tags: what an analyst sees, counted as sets.

Each comment has a gold set of tags ("delivery:neg", "staff:pos") and a
predicted set. A tag is a true positive when it is in both sets, a false
positive when only predicted, a false negative when only in the gold set.
Micro scores add the counts of every comment first; per-driver scores count
only that driver's tags. "Driver" scores drop the polarity before comparing
(``delivery:neg`` and ``delivery:pos`` are both ``delivery``).

Pure functions: tests/test_driver_scores.py checks them on small tables
worked out by hand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Scores:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        """2TP / (2TP + FP + FN); None when there is nothing to score."""
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else None


def drivers_only(tags: Iterable[str]) -> set[str]:
    """``{"delivery:neg", "delivery:pos"}`` -> ``{"delivery"}``."""
    return {t.partition(":")[0] for t in tags}


def counts(gold: Sequence[set[str]], predicted: Sequence[set[str]]) -> dict[str, Counter]:
    """tp / fp / fn per label over paired comments."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted must pair up comment by comment")
    by_label: dict[str, Counter] = {}
    for g, p in zip(gold, predicted, strict=True):
        for label in g | p:
            c = by_label.setdefault(label, Counter())
            if label in g and label in p:
                c["tp"] += 1
            elif label in p:
                c["fp"] += 1
            else:
                c["fn"] += 1
    return by_label


def micro(by_label: dict[str, Counter]) -> Scores:
    total = Counter()
    for c in by_label.values():
        total.update(c)
    return Scores(total["tp"], total["fp"], total["fn"])


def per_label(by_label: dict[str, Counter], labels: Iterable[str]) -> dict[str, Scores]:
    return {
        label: Scores(
            by_label.get(label, Counter())["tp"],
            by_label.get(label, Counter())["fp"],
            by_label.get(label, Counter())["fn"],
        )
        for label in labels
    }


def per_driver(by_label: dict[str, Counter], driver_ids: Iterable[str]) -> dict[str, Scores]:
    """Tag counts summed per driver (both polarities of a driver together)."""
    result = {}
    for driver in driver_ids:
        total = Counter()
        for label, c in by_label.items():
            if label.partition(":")[0] == driver:
                total.update(c)
        result[driver] = Scores(total["tp"], total["fp"], total["fn"])
    return result
