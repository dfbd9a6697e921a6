"""The trainers' inbox (analytics.inbox) on a small tracker store whose
conversations are worked out by hand below: which messages land there and
why, grouped and counted, masked, with suggestions; employees' proposed
fixes as candidate known issues; a second run with nothing new writes
nothing; a later run adds to the day's file. (That the file loads in Rasa
and round-trips through `make validate`: tests/test_inbox.py, bot env.)"""

from __future__ import annotations

import datetime as dt
import sys

import yaml

from analytics import inbox
from analytics.rasa_events import EventWriter
from analytics.tests.conftest import write

DAY = dt.date(2026, 1, 2)


class C(EventWriter):
    def __init__(self, sender: str, start: float = 1_700_000_000.0):
        super().__init__(sender, "rest", start)

    def session(self):
        return self.action("action_session_start").session_started()

    def ask(self, slot: str):
        return self.slot("requested_slot", slot)


def conversations() -> list[C]:
    """Not understood, by the rules of analytics.inbox:
    - rest:a "może siedem albo osiem": clarify_count 0 -> 1 (clarification);
    - rest:a "no bo tak jakoś wyszło": a why-answer, no driver (why_no_driver);
    - rest:a "asdfgh qwerty": nlu_fallback + action_nps_fallback (fallback),
      and still the why-answer pending, no driver (why_no_driver);
    - rest:a the phone and e-mail message: confidence 0.2 < 0.4 (low_confidence)
      and a why-answer without a driver;
    - rest:b "Asdfgh  qwerty!": the same words as rest:a's (fallback): count 2;
    - rest:emp (an employee) "kurierzy wiecznie się spóźniają": 0.3 (low_confidence).
    Understood: "/start" (a payload), "7", "kurier zgubił paczkę" (a new
    driver tag after it), "więcej kurierów w piątki" (0.9, no why pending);
    rest:try-1 is the dashboard's test chat, never counted."""
    a = C("rest:a").session().user("/start", "start").active_loop("survey_form")
    a.ask("nps_score").user("może siedem albo osiem", "give_score", confidence=0.8)
    a.slot("clarify_count", 1)
    a.user("7", "give_score", confidence=0.99).slot("nps_score", 7).slot("clarify_count", 0)
    a.ask("reason").user("kurier zgubił paczkę", "feedback", confidence=0.9)
    a.slot("drivers", ["delivery:neg"]).ask("why_answer")
    a.user("no bo tak jakoś wyszło", "feedback", confidence=0.9).ask("why_answer")
    a.user("asdfgh qwerty", "nlu_fallback", confidence=0.3).action("action_nps_fallback")
    a.bot("Przepraszam, nie zrozumiałem.", "utter_default")
    a.user(
        "zadzwońcie 600 100 200 albo napiszcie jan.kowalski@example.com",
        "feedback",
        confidence=0.2,
    )
    b = C("rest:b").session().user("cześć", "greet").active_loop("survey_form").ask("nps_score")
    b.user("Asdfgh  qwerty!", "nlu_fallback", confidence=0.25).action("action_nps_fallback")
    e = C("rest:emp").session().user("/start", "start").slot("role", "employee")
    e.slot("touchpoint", "warszawa-1").active_loop("survey_form").ask("predicted_complaint")
    e.user("kurierzy wiecznie się spóźniają", "feedback", confidence=0.3)
    e.slot("employee_drivers", ["delivery:neg"]).ask("proposed_fix")
    e.user("więcej kurierów w piątki", "feedback", confidence=0.9)
    e.slot("proposed_fix", "więcej kurierów w piątki")
    t = C("rest:try-1").session().user("zzz", "nlu_fallback", confidence=0.1)
    t.action("action_nps_fallback")
    return [a, b, e, t]


def build(url: str) -> None:
    """The store above (also used by tests/test_inbox.py through a subprocess)."""
    write(url, *conversations())


def lines_of(path) -> dict[str, dict]:
    """Every exported line: its text -> {intent, metadata}."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["version"] == "3.1"
    return {
        item["text"]: {"intent": block["intent"], **item["metadata"]}
        for block in data["nlu"]
        for item in block["examples"]
    }


def run(url, tmp_path, *extra) -> int:
    argv = ["--db", url, "--out", str(tmp_path / "inbox"), "--state", str(tmp_path / "s.json")]
    return inbox.main([*argv, *extra])


def test_export(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("NPS_DATA_DIR", raising=False)
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    build(url)
    result = inbox.export(
        url, tmp_path / "inbox", inbox.REPO_ROOT / "data", tmp_path / "s.json", today=DAY
    )
    nlu = tmp_path / "inbox" / "2026-01-02.yml"
    issues = tmp_path / "inbox" / "2026-01-02.known_issues.yml"
    assert result.written == [nlu, issues]
    assert (result.messages, result.lines, result.candidates) == (6, 5, 1)
    lines = lines_of(nlu)
    assert set(lines) == {
        "asdfgh qwerty",
        '[kurierzy]{"entity": "delivery", "role": "neg"} wiecznie się spóźniają',
        "zadzwońcie <telefon> albo napiszcie <e-mail>",
        "może siedem albo osiem",
        "no bo tak jakoś wyszło",
    }
    first = next(iter(lines))
    assert first == "asdfgh qwerty"  # the most frequent first
    assert lines[first]["count"] == 2
    assert lines[first]["why"] == {"fallback": 2, "why_no_driver": 1}
    assert lines[first]["from"] == {"customer": 2}
    employee = lines['[kurierzy]{"entity": "delivery", "role": "neg"} wiecznie się spóźniają']
    assert employee["from"] == {"employee": 1}
    assert employee["why"] == {"low_confidence": 1}
    assert employee["intent"] == "feedback"
    assert employee["suggested"] == {
        "intent": "feedback",
        "drivers": ["delivery:neg"],
        "by": "lexicon",
    }
    masked = lines["zadzwońcie <telefon> albo napiszcie <e-mail>"]
    assert masked["why"] == {"low_confidence": 1, "why_no_driver": 1}
    # the mark "<e-mail>" is not read as the word e-mail (customer support)
    assert masked["suggested"]["drivers"] == []
    assert lines["może siedem albo osiem"]["why"] == {"clarification": 1}
    assert lines["no bo tak jakoś wyszło"]["why"] == {"why_no_driver": 1}
    for line in lines.values():
        assert set(line["suggested"]) >= {"intent", "drivers", "by"}
    text = nlu.read_text(encoding="utf-8")
    for private in ("600", "100 200", "@", "kowalski", "rest:", "zzz"):
        assert private not in text
    candidates = yaml.safe_load(issues.read_text(encoding="utf-8"))["candidate_known_issues"]
    assert candidates == [
        {
            "id": "candidate_delivery_1",
            "candidate": True,
            "driver": "delivery",
            "title": "więcej kurierów w piątki",
            "match": [],
            "fix": "więcej kurierów w piątki",
            "count": 1,
            "stores": ["warszawa-1"],
        }
    ]

    # Nothing new: nothing written, and it says so.
    before = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "inbox").iterdir()}
    capsys.readouterr()
    assert run(url, tmp_path) == 0
    assert "nothing new since event" in capsys.readouterr().out
    after = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "inbox").iterdir()}
    assert after == before


def test_later_export_adds_to_the_days_file(tmp_path, monkeypatch):
    monkeypatch.delenv("NPS_DATA_DIR", raising=False)
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    build(url)
    data = inbox.REPO_ROOT / "data"
    state = tmp_path / "s.json"
    inbox.export(url, tmp_path / "inbox", data, state, today=DAY)
    # One more customer says the same unreadable words: count 2 -> 3.
    c = C("rest:c", start=1_700_010_000.0).session().user("hej", "greet").ask("nps_score")
    c.user("asdfgh qwerty", "nlu_fallback", confidence=0.2).action("action_nps_fallback")
    write(url, c)
    result = inbox.export(url, tmp_path / "inbox", data, state, today=DAY)
    assert (result.messages, result.lines, result.candidates) == (1, 1, 0)
    lines = lines_of(tmp_path / "inbox" / "2026-01-02.yml")
    assert lines["asdfgh qwerty"]["count"] == 3
    assert lines["asdfgh qwerty"]["why"] == {"fallback": 3, "why_no_driver": 1}
    assert len(lines) == 5
    # --since-event-id reads again from there, whatever var/inbox.json says.
    again = inbox.export(url, tmp_path / "other", data, state, since_event_id=0, today=DAY)
    assert (again.messages, again.lines) == (7, 5)


def test_masking():
    assert inbox.clean_text("tel. +48 600-100-200, mail a.b@c.pl, zamówienie 12345678 [x]{y}") == (
        "tel. <telefon>, mail <e-mail>, zamówienie <numer> (x)(y)"
    )
    # a score, a price and a date stay
    assert inbox.clean_text("8/10, 149 zł, 12.05") == "8/10, 149 zł, 12.05"


if __name__ == "__main__":  # tests/test_inbox.py builds the store from the bot env this way
    build(sys.argv[1])
