"""The case state machine (cases.states), pure: every pair of states is
either allowed (and then does what the table says) or raises a clear error."""

from __future__ import annotations

import itertools

import pytest

from cases import states as st

NOW = 1_800_000_000.0

# Allowed moves, written out by hand from the diagram
# (new -> assigned -> contacted | in_progress -> on_hold -> resolved |
# unresolved -> reopened -> assigned).
ALLOWED = {
    ("new", "assigned"),
    ("assigned", "contacted"),
    ("assigned", "in_progress"),
    ("assigned", "on_hold"),
    ("assigned", "unresolved"),
    ("contacted", "in_progress"),
    ("contacted", "on_hold"),
    ("contacted", "resolved"),
    ("contacted", "unresolved"),
    ("in_progress", "contacted"),
    ("in_progress", "on_hold"),
    ("in_progress", "resolved"),
    ("in_progress", "unresolved"),
    ("on_hold", "contacted"),
    ("on_hold", "in_progress"),
    ("on_hold", "resolved"),
    ("on_hold", "unresolved"),
    ("resolved", "reopened"),
    ("unresolved", "reopened"),
    ("reopened", "assigned"),
}


def _case(state, **kw):
    base = {
        "id": 7,
        "state": state,
        "owner": "ola",
        "first_contact_at": None,
        "on_hold_since": None,
        "paused_seconds": 0.0,
        "first_contact_due": NOW + 3600,
        "resolve_due": NOW + 7200,
        "root_cause": None,
        "resolution": None,
        "resolved_at": None,
        "closed_at": None,
    }
    if state == "on_hold":
        base["on_hold_since"] = NOW - 600
    if state in ("resolved", "unresolved"):
        base.update(root_cause="delivery", resolution="fixed", closed_at=NOW - 60)
    base.update(kw)
    return base


CLOSE = {"root_cause": "delivery", "resolution": "fixed"}


@pytest.mark.parametrize(("src", "dst"), list(itertools.product(st.STATES, st.STATES)))
def test_every_pair(src, dst):
    case = _case(src)
    extra = CLOSE if dst in st.CLOSED else {}
    if (src, dst) in ALLOWED:
        changes, log = st.transition(case, dst, NOW, **extra)
        assert changes["state"] == dst
        assert log[0] == st.LogEntry("transition", "state", src, dst)
        # One audit entry per changed field, each with the old and new value.
        assert {e.field for e in log} == set(changes)
        for e in log:
            assert e.old == case.get(e.field) and e.new == changes[e.field]
    else:
        with pytest.raises(st.IllegalTransition) as err:
            st.transition(case, dst, NOW, **extra)
        assert f"from {src} to {dst}" in str(err.value)


def test_unknown_state():
    with pytest.raises(st.IllegalTransition, match="unknown state"):
        st.transition(_case("new"), "done", NOW)


def test_assign_needs_an_owner():
    with pytest.raises(st.MissingField, match="owner"):
        st.transition(_case("new", owner=None), "assigned", NOW)
    changes, _ = st.transition(_case("new", owner=None), "assigned", NOW, owner="jan")
    assert changes["owner"] == "jan"


@pytest.mark.parametrize("dst", ["resolved", "unresolved"])
@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({}, "root cause and resolution"),
        ({"root_cause": "price"}, "resolution"),
        ({"resolution": "fixed"}, "root cause"),
    ],
)
def test_closing_requires_root_cause_and_resolution(dst, given, missing):
    with pytest.raises(st.MissingField, match=f"needs {missing}$"):
        st.transition(_case("in_progress"), dst, NOW, **given)


def test_closing_checks_the_catalogue_and_codes():
    kw = dict(root_causes={"delivery"}, resolutions={"fixed"})
    with pytest.raises(st.MissingField, match="not a driver"):
        st.transition(
            _case("contacted"), "resolved", NOW, root_cause="weather", resolution="fixed", **kw
        )
    with pytest.raises(st.MissingField, match="not a code"):
        st.transition(
            _case("contacted"), "resolved", NOW, root_cause="delivery", resolution="magic", **kw
        )
    changes, _ = st.transition(_case("contacted"), "resolved", NOW, **CLOSE, **kw)
    assert changes == {
        "state": "resolved",
        "root_cause": "delivery",
        "resolution": "fixed",
        "closed_at": NOW,
        "resolved_at": NOW,
    }


def test_unresolved_sets_closed_not_resolved():
    changes, _ = st.transition(_case("assigned"), "unresolved", NOW, **CLOSE)
    assert changes["closed_at"] == NOW and "resolved_at" not in changes


def test_first_contact_time_kept_once():
    changes, _ = st.transition(_case("assigned"), "contacted", NOW)
    assert changes["first_contact_at"] == NOW
    changes, _ = st.transition(_case("in_progress", first_contact_at=NOW - 99), "contacted", NOW)
    assert "first_contact_at" not in changes


def test_on_hold_pauses_the_clock():
    changes, _ = st.transition(_case("contacted", first_contact_at=NOW - 50), "on_hold", NOW)
    assert changes["on_hold_since"] == NOW
    # 600 s on hold (since NOW - 600) on top of 100 s from an earlier hold:
    # paused 700 s, the resolve due time moves by 600 s; first contact was
    # already made, so its due time stays.
    case = _case("on_hold", paused_seconds=100.0, first_contact_at=NOW - 900)
    changes, _ = st.transition(case, "in_progress", NOW)
    assert changes["paused_seconds"] == 700.0
    assert changes["on_hold_since"] is None
    assert changes["resolve_due"] == NOW + 7200 + 600
    assert "first_contact_due" not in changes
    # Not contacted yet: both due times move. A business-hours clock counts
    # only half of the hold here (a stand-in for cases.sla).
    changes, _ = st.transition(
        _case("on_hold"),
        "contacted",
        NOW,
        pause_clock=lambda a, b: (b - a) / 2,
        extend_due=lambda due, s: due + 2 * s,
    )
    assert changes["paused_seconds"] == 300.0
    assert changes["first_contact_due"] == NOW + 3600 + 600
    assert changes["resolve_due"] == NOW + 7200 + 600


def test_reopen_clears_the_closing_fields():
    case = _case("resolved", resolved_at=NOW - 60)
    changes, log = st.transition(case, "reopened", NOW)
    assert changes == {
        "state": "reopened",
        "resolved_at": None,
        "closed_at": None,
        "root_cause": None,
        "resolution": None,
    }
    assert len(log) == 5
    # An acknowledgement from before it was closed does not count any more.
    acknowledged = _case("resolved", resolved_at=NOW - 60, acknowledged_at=NOW - 3600)
    assert st.transition(acknowledged, "reopened", NOW)[0]["acknowledged_at"] is None
    # Closing again needs them again.
    with pytest.raises(st.MissingField):
        st.transition({**case, **changes, "state": "in_progress"}, "resolved", NOW)


def test_reassign():
    changes, log = st.reassign(_case("contacted"), "jan")
    assert changes == {"owner": "jan"} and log == [st.LogEntry("set", "owner", "ola", "jan")]
    assert st.reassign(_case("contacted"), "ola") == ({}, [])
    with pytest.raises(st.IllegalTransition):
        st.reassign(_case("resolved"), "jan")
