"""The case's state machine (pure: no database).

    new -> assigned -> contacted | in_progress -> on_hold -> resolved | unresolved
    resolved | unresolved -> reopened -> assigned -> ...

`transition(case, to, ...)` checks the move and returns the field changes
(a dict for the cases row) and the audit entries (one per changed field);
cases.store applies both in one transaction. Times are Unix seconds (UTC).

While a case is on hold its SLA clock is paused: `on_hold_since` is set on
entering, and leaving adds the time spent to `paused_seconds`.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass

NEW = "new"
ASSIGNED = "assigned"
CONTACTED = "contacted"
IN_PROGRESS = "in_progress"
ON_HOLD = "on_hold"
RESOLVED = "resolved"
UNRESOLVED = "unresolved"
REOPENED = "reopened"

STATES = (NEW, ASSIGNED, CONTACTED, IN_PROGRESS, ON_HOLD, RESOLVED, UNRESOLVED, REOPENED)
CLOSED = (RESOLVED, UNRESOLVED)
OPEN = tuple(s for s in STATES if s not in CLOSED)

# Where each state may go. "unresolved" is allowed straight after
# "assigned": the customer could not be reached at all.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    NEW: (ASSIGNED,),
    ASSIGNED: (CONTACTED, IN_PROGRESS, ON_HOLD, UNRESOLVED),
    CONTACTED: (IN_PROGRESS, ON_HOLD, RESOLVED, UNRESOLVED),
    IN_PROGRESS: (CONTACTED, ON_HOLD, RESOLVED, UNRESOLVED),
    ON_HOLD: (CONTACTED, IN_PROGRESS, RESOLVED, UNRESOLVED),
    RESOLVED: (REOPENED,),
    UNRESOLVED: (REOPENED,),
    REOPENED: (ASSIGNED,),
}

# The fields whose changes the audit log records.
AUDITED = (
    "state",
    "owner",
    "first_contact_at",
    "resolved_at",
    "closed_at",
    "root_cause",
    "resolution",
    "on_hold_since",
    "paused_seconds",
    "first_contact_due",
    "resolve_due",
)


class CaseError(ValueError):
    """A change the case does not allow; the message says why."""


class IllegalTransition(CaseError):
    pass


class MissingField(CaseError):
    pass


@dataclass(frozen=True)
class LogEntry:
    action: str
    field: str | None
    old: object
    new: object
    note: str | None = None


def _wall_clock(since: float, now: float) -> float:
    return now - since


def _plus(due: float, seconds: float) -> float:
    return due + seconds


def allowed(state: str) -> tuple[str, ...]:
    return TRANSITIONS.get(state, ())


def transition(
    case: Mapping,
    to: str,
    now: float,
    *,
    owner: str | None = None,
    root_cause: str | None = None,
    resolution: str | None = None,
    root_causes: Container[str] | None = None,
    resolutions: Container[str] | None = None,
    pause_clock: Callable[[float, float], float] | None = None,
    extend_due: Callable[[float, float], float] | None = None,
) -> tuple[dict, list[LogEntry]]:
    """The changes moving `case` (a mapping of the cases row) to state `to`.

    Assigning needs an owner (given, or already on the case). Closing
    (resolved/unresolved) needs a root cause (a driver id, checked against
    `root_causes` when given) and a resolution code (checked against
    `resolutions`). Reopening clears the closing fields, so the next close
    asks for them again. Raises IllegalTransition or MissingField.

    Leaving on_hold adds the time on hold to `paused_seconds`, measured by
    `pause_clock(since, now)` (default: wall-clock seconds; pass business
    seconds of the store's calendar, cases.sla.business_seconds_between),
    and moves the due times still running by it with `extend_due(due,
    seconds)` (default: plus wall-clock seconds; cases.sla.extend_due)."""
    state = case.get("state")
    if to not in STATES:
        raise IllegalTransition(f"unknown state {to!r}; states: {', '.join(STATES)}")
    if to not in allowed(state):
        options = ", ".join(allowed(state)) or "none"
        raise IllegalTransition(
            f"case {case.get('id')}: cannot go from {state} to {to} (from {state}: {options})"
        )
    changes: dict = {"state": to}
    if to == ASSIGNED:
        who = owner or case.get("owner")
        if not who:
            raise MissingField(f"case {case.get('id')}: assigning needs an owner")
        changes["owner"] = who
    if to == CONTACTED and case.get("first_contact_at") is None:
        changes["first_contact_at"] = now
    if state == ON_HOLD:
        since = case.get("on_hold_since")
        paused = float(case.get("paused_seconds") or 0.0)
        if since is not None:
            held = (pause_clock or _wall_clock)(float(since), now)
            held = max(0.0, held)
            changes["paused_seconds"] = paused + held
            extend = extend_due or _plus
            if held and case.get("first_contact_at") is None and case.get("first_contact_due"):
                changes["first_contact_due"] = extend(float(case["first_contact_due"]), held)
            if held and case.get("resolve_due"):
                changes["resolve_due"] = extend(float(case["resolve_due"]), held)
        changes["on_hold_since"] = None
    if to == ON_HOLD:
        changes["on_hold_since"] = now
    if to in CLOSED:
        cause = root_cause or case.get("root_cause")
        code = resolution or case.get("resolution")
        missing = [n for n, v in (("root cause", cause), ("resolution", code)) if not v]
        if missing:
            raise MissingField(
                f"case {case.get('id')}: closing as {to} needs {' and '.join(missing)}"
            )
        if root_causes is not None and cause not in root_causes:
            raise MissingField(
                f"case {case.get('id')}: root cause {cause!r} is not a driver of the catalogue"
            )
        if resolutions is not None and code not in resolutions:
            raise MissingField(
                f"case {case.get('id')}: resolution {code!r} is not a code of data/cases.yml"
            )
        changes.update(root_cause=cause, resolution=code, closed_at=now)
        if to == RESOLVED:
            changes["resolved_at"] = now
    if to == REOPENED:
        # Acknowledged before it was closed is not acknowledged now: the alert
        # about the reopening repeats until someone sees it (cases/alerts.py).
        changes.update(
            resolved_at=None, closed_at=None, root_cause=None, resolution=None, acknowledged_at=None
        )
    entries = [
        LogEntry("transition" if name == "state" else "set", name, case.get(name), value)
        for name, value in changes.items()
        if case.get(name) != value
    ]
    return {k: v for k, v in changes.items() if case.get(k) != v}, entries


def reassign(case: Mapping, owner: str) -> tuple[dict, list[LogEntry]]:
    """A new owner without a state change (open cases only)."""
    if case.get("state") in CLOSED:
        raise IllegalTransition(f"case {case.get('id')}: a closed case cannot be reassigned")
    if not owner:
        raise MissingField(f"case {case.get('id')}: an owner is needed")
    if case.get("owner") == owner:
        return {}, []
    return {"owner": owner}, [LogEntry("set", "owner", case.get("owner"), owner)]
