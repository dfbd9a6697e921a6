"""Case rules (cases.rules): loading data/cases.yml with errors that name the
line, every condition, first match wins, exceptions. Surveys are built by
hand; the expected rule of each is worked out from the rule file by reading it."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from cases import rules
from cases.rules import Survey
from nps.settings import REPO_ROOT
from nps.trainer_yaml import TrainerFileError

DAY = 86400.0
T0 = dt.datetime(2026, 11, 10, 12, tzinfo=dt.timezone.utc).timestamp()

RULES = """\
rules:
  - id: failed_fix
    group: detractor
    known_issue_failed: true
    priority: high
    team: cs
    sla: {first_contact_hours: 2, resolve_hours: 8}
  - id: very_low
    score: {min: 0, max: 2}
    priority: high
    team: cs
    sla: {first_contact_hours: 4, resolve_hours: 8}
  - id: repeat
    group: [detractor]
    repeat_within_days: 30
    priority: high
    team: cs
    sla: {first_contact_hours: 4, resolve_hours: 8}
  - id: words
    words: [reklamac*, nigdy więcej]
    priority: normal
    team: cs
    sla: {first_contact_hours: 8, resolve_hours: 16}
  - id: staff_in_store
    drivers: [staff:neg]
    stores: [warszawa_1]
    priority: normal
    team: stores
    sla: {first_contact_hours: 8, resolve_hours: 16}
  - id: any_price
    drivers: [price]
    consent: false
    priority: low
    team: pricing
    sla: {first_contact_hours: 40, resolve_hours: 80}
  - id: contact
    group: detractor
    consent: true
    priority: normal
    team: cs
    sla: {first_contact_hours: 8, resolve_hours: 40}
exceptions:
  - id: outage
    drivers: [delivery]
    from: 2026-12-01
    until: 2026-12-03
  - id: store_closed
    stores: [gdansk]
resolutions:
  - {code: fixed, label: Naprawione}
"""


def _ruleset(tmp_path, text=RULES, catalogue=None):
    path = tmp_path / "cases.yml"
    path.write_text(text, encoding="utf-8")
    return rules.load_rules(path, catalogue)


def _survey(**kw):
    base = dict(response_id=1, person="p1", started_at=T0, score=5, group="detractor")
    base.update(kw)
    return Survey(**base)


def _rule_id(ruleset, survey, earlier=()):
    rule = rules.first_match(ruleset, survey, earlier)
    return rule.id if rule else None


@pytest.mark.parametrize(
    ("survey", "expected"),
    [
        # A fix was offered and did not help: the first rule, whatever else holds.
        (_survey(score=1, known_issue="parcel_tracking", issue_resolved=False), "failed_fix"),
        # The fix helped: not failed_fix; score 1 is within 0-2.
        (_survey(score=1, known_issue="parcel_tracking", issue_resolved=True), "very_low"),
        # No answer to "did it help?" (None) is not a failure.
        (_survey(score=5, known_issue="x", issue_resolved=None, consent=True), "contact"),
        # Score 3 is outside 0-2; nothing else: the catch-all needs consent.
        (_survey(score=3, consent=True), "contact"),
        (_survey(score=3, consent=False), None),
        (_survey(score=3, consent=None), None),
        # Words: folded ("REKLAMACJĘ" -> "reklamacje" starts with "reklamac"),
        # and a phrase needs all its words.
        (_survey(texts=("Składam REKLAMACJĘ",)), "words"),
        (_survey(texts=("nigdy", "więcej tu nie kupię")), "words"),
        (_survey(texts=("nigdy nie było tak źle",)), None),
        # Driver with polarity and a store: both must hold.
        (_survey(drivers=(("staff", "neg"),), store="warszawa_1"), "staff_in_store"),
        (_survey(drivers=(("staff", "pos"),), store="warszawa_1"), None),
        (_survey(drivers=(("staff", "neg"),), store="krakow"), None),
        # "price" without polarity: either one; consent false only.
        (
            _survey(group="passive", score=7, drivers=(("price", "pos"),), consent=False),
            "any_price",
        ),
        (_survey(group="passive", score=7, drivers=(("price", "neg"),), consent=True), None),
        # A promoter with consent: no rule (the catch-all is for detractors).
        (_survey(group="promoter", score=10, consent=True), None),
    ],
)
def test_first_match(tmp_path, survey, expected):
    assert _rule_id(_ruleset(tmp_path), survey) == expected


def test_repeat_detractor_within_days(tmp_path):
    rs = _ruleset(tmp_path)
    s = _survey(score=4, consent=True)
    # Earlier detractor 29 days before: within 30 days.
    assert _rule_id(rs, s, [T0 - 29 * DAY]) == "repeat"
    # 31 days before: too long ago; the catch-all takes it.
    assert _rule_id(rs, s, [T0 - 31 * DAY]) == "contact"
    # The survey itself (same time) is not an earlier one.
    assert _rule_id(rs, s, [T0]) == "contact"


def test_exceptions(tmp_path):
    rs = _ruleset(tmp_path)
    dec2 = dt.datetime(2026, 12, 2, 9, tzinfo=dt.timezone.utc).timestamp()
    dec4 = dt.datetime(2026, 12, 4, 9, tzinfo=dt.timezone.utc).timestamp()
    delivery = (("delivery", "neg"),)
    assert rules.suppressed_by(rs, _survey(started_at=dec2, drivers=delivery)).id == "outage"
    # The day after `until`: not suppressed.
    assert rules.suppressed_by(rs, _survey(started_at=dec4, drivers=delivery)) is None
    # Inside the dates but another driver: not suppressed.
    assert rules.suppressed_by(rs, _survey(started_at=dec2, drivers=(("price", "neg"),))) is None
    # Without dates: always, for that store.
    assert rules.suppressed_by(rs, _survey(store="gdansk")).id == "store_closed"


# Lines counted in RULES above: a rule's errors name the line of its "- id:"
# (the sla's own line for its hours, the score's for the score).
@pytest.mark.parametrize(
    ("replace", "by", "line", "message"),
    [
        (
            "priority: high\n    team: cs\n    sla: {first_contact_hours: 2",
            "priority: urgent\n    team: cs\n    sla: {first_contact_hours: 2",
            2,
            "priority",
        ),
        ("words: [reklamac*, nigdy więcej]", "wordz: [x]", 19, "unknown key"),
        ("drivers: [staff:neg]", "drivers: [staff:bad]", 24, "polarity"),
        ("drivers: [price]", "drivers: [prices]", 30, "not a driver"),
        ("resolve_hours: 80", "resolve_hours: 10", 35, "resolve_hours"),
        ("until: 2026-12-03", "until: 2026-11-03", 43, "'from' is after 'until'"),
        ("score: {min: 0, max: 2}", "score: {min: 5, max: 2}", 9, "min is above max"),
    ],
)
def test_errors_name_file_and_line(tmp_path, replace, by, line, message):
    assert replace in RULES
    text = RULES.replace(replace, by, 1)
    with pytest.raises(TrainerFileError) as err:
        _ruleset(tmp_path, text, catalogue={"staff", "price", "delivery"})
    assert f"cases.yml:{line}:" in str(err.value)
    assert message in str(err.value)


def test_the_shipped_file(tmp_path):
    """data/cases.yml: valid against the driver catalogue, a high-priority
    rule for a failed known-issue fix, and the catch-all for every detractor
    who agreed to be contacted (the issue requires it)."""
    data = REPO_ROOT / "data"
    assert rules.problems(data) == []
    rs = rules.load_for(data)
    failed = _survey(score=6, consent=True, known_issue="parcel_tracking", issue_resolved=False)
    rule = rules.first_match(rs, failed)
    assert (rule.id, rule.priority) == ("known_issue_not_fixed", "high")
    for score in range(7):
        assert rules.first_match(rs, _survey(score=score, consent=True)) is not None
        assert rules.first_match(rs, _survey(score=score, consent=False)) is None
    assert "fixed" in rs.resolutions


def test_problems_without_catch_all(tmp_path):
    (tmp_path / "drivers.yml").write_text(
        (REPO_ROOT / "data" / "drivers.yml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    text = textwrap.dedent(
        """\
        rules:
          - id: only_low
            score: {max: 3}
            consent: true
            priority: high
            team: cs
            sla: {first_contact_hours: 1, resolve_hours: 2}
        resolutions: [{code: fixed, label: ok}]
        """
    )
    (tmp_path / "cases.yml").write_text(text, encoding="utf-8")
    found = rules.problems(tmp_path)
    assert len(found) == 1 and "every detractor who agreed" in found[0]
    (tmp_path / "cases.yml").write_text("rules: [\n", encoding="utf-8")
    assert "cases.yml" in rules.problems(tmp_path)[0]
