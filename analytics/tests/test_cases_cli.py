"""`python -m analytics cases`: opens what the rules say, prints the cases
as JSON (the fields scripts rely on, times as ISO 8601 UTC), idempotent,
--no-open, Markdown without conversation ids, errors in one line."""

from __future__ import annotations

import json

from analytics.__main__ import main
from analytics.tests.conftest import Conversation, write

T0 = 1_790_000_000.0  # 2026-09-21 14:13:20 UTC, a Monday
FIELDS = {
    "id",
    "sender",
    "state",
    "priority",
    "team",
    "rule",
    "opened_at",
    "first_contact_due",
    "resolve_due",
}


def _detractor(sender, start, consent):
    return (
        Conversation(sender, "rest", start=start)
        .session()
        .user("hej")
        .form()
        .slot("nps_score", 2)
        .user("drogo")
        .slot("reason", "drogo")
        .slot("drivers", ["price:neg"])
        .user("tak" if consent else "nie")
        .slot("contact_consent", consent)
        .slot("survey_outcome", "finished")
        .form(None)
    )


def test_cases_json(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    write(url, _detractor("rest:ewa", T0, True), _detractor("rest:filip", T0 + 50, False))
    assert main(["cases", "--db", url, "--format", "json"]) == 0
    out, err = capsys.readouterr()
    cases = json.loads(out)
    assert "opened 1 case(s)" in err and "rest:ewa" not in err
    assert len(cases) == 1
    (case,) = cases
    assert FIELDS <= set(case)
    assert (case["sender"], case["state"], case["rule"], case["priority"], case["team"]) == (
        "rest:ewa",
        "new",
        "detractor_contact",
        "normal",
        "customer_support",
    )
    # 12 events (the session start is two), the last 11 ticks of 10 s after
    # T0 = 14:13:20 -> 14:15:10 UTC.
    assert case["opened_at"] == "2026-09-21T14:15:10Z"
    assert case["first_contact_due"].endswith("Z") and case["resolve_due"].endswith("Z")
    assert case["opened_at"] < case["first_contact_due"] < case["resolve_due"]
    assert "person" not in case
    # Again: nothing new.
    assert main(["cases", "--db", url]) == 0
    out, err = capsys.readouterr()
    assert len(json.loads(out)) == 1 and "opened 0 case(s)" in err
    # A new detractor, listed only with --no-open: not opened.
    write(url, _detractor("rest:gosia", T0 + 500, True))
    assert main(["cases", "--db", url, "--no-open"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert main(["cases", "--db", url, "--format", "md"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| id | state |") and "detractor_contact" in out
    assert "rest:" not in out
    assert main(["cases", "--db", url, "--state", "resolved"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_separate_cases_db(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    cases_url = f"sqlite:///{tmp_path / 'cases.db'}"
    write(url, _detractor("rest:ewa", T0, True))
    assert main(["cases", "--db", url, "--cases-db", cases_url]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert (tmp_path / "cases.db").is_file()
    # The tracker store's own database has no cases table.
    assert main(["cases", "--db", url, "--no-open"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_errors_in_one_line(tmp_path, capsys):
    assert main(["cases", "--db", f"sqlite:///{tmp_path / 'missing.db'}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert (
        main(["cases", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--no-open", "--state", "done"])
        == 2
    )
    assert "unknown state" in capsys.readouterr().err


def test_cases_json_on_postgresql(pg_schema, capsys):
    """The same on PostgreSQL: the cases' tables next to Rasa's events, in
    the schema the URL names."""
    _name, url = pg_schema
    write(url, _detractor("rest:ewa", T0, True))
    assert main(["cases", "--db", url]) == 0
    (case,) = json.loads(capsys.readouterr().out)
    assert (case["sender"], case["rule"], case["opened_at"]) == (
        "rest:ewa",
        "detractor_contact",
        "2026-09-21T14:15:10Z",
    )
    assert main(["cases", "--db", url]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
