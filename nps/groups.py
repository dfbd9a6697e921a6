"""NPS groups: the one place that says which score belongs where."""

from __future__ import annotations

PROMOTER = "promoter"
PASSIVE = "passive"
DETRACTOR = "detractor"
GROUPS = (PROMOTER, PASSIVE, DETRACTOR)


def nps_group(score: int | None) -> str | None:
    """9-10 promoter, 7-8 passive, 0-6 detractor; None for no score."""
    if score is None:
        return None
    if not 0 <= score <= 10:
        raise ValueError(f"an NPS score is 0-10, got {score!r}")
    if score >= 9:
        return PROMOTER
    if score >= 7:
        return PASSIVE
    return DETRACTOR
