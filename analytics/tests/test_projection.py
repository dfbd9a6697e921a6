"""The projection: hand-built conversations with known answers, generated
stores checked against the generator's plan, and incremental == rebuild on
SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import random

import pytest
import sqlalchemy as sa

from analytics import schema, tracker_source
from analytics.db import AnalyticsError, tracker_engine, writable_engine
from analytics.generate import generate
from analytics.projection import Projection
from analytics.tests.conftest import Conversation, person, write


def _project(tracker_url, target, rebuild=False):
    url, schema = target
    proj = Projection(writable_engine(url), schema)
    result = proj.update(tracker_engine(tracker_url), rebuild=rebuild)
    return proj, result


def _snapshot(proj: Projection) -> dict:
    out = {}
    for table in schema.DATA_TABLES:
        pk = [c for c in table.primary_key.columns]
        with proj.engine.connect() as conn:
            out[table.name] = [tuple(r) for r in conn.execute(sa.select(table).order_by(*pk))]
    return out


def hand_built():
    alice = (
        Conversation("alice", "rest")
        .session()
        .user("cześć")
        .form()
        .slot("nps_score", 3)
        .slot("nps_group", "detractor")
        .user("kurier się spóźnił")
        .slot("reason", "Kurier się spóźnił")
        .slot("drivers", ["delivery:neg"])
        .slot("requested_slot", "why_answer")
        .user("bo czekałem cały dzień")
        .slot("why_chain", ["bo czekałem cały dzień"])
        .slot("drivers", ["delivery:neg", "price:neg"])
        .slot("known_issue", "parcel_locker_code")
        .user("tak")
        .slot("issue_resolved", True)
        .user("8")
        .slot("nps_score_after", 8)
        .user("nie")
        .slot("contact_consent", False)
        .form(None)
        .slot("survey_outcome", "finished")
    )
    bob = (
        Conversation("48600100200", "whatsapp", start=1_700_100_000.0)
        .session()
        # Carried over by the session start, before the customer said
        # anything: not part of this survey.
        .slot("nps_score", 10)
        .slot("reason", "stare")
        .user("hej")
        .form()
        .slot("nps_score", 9)
        .user("koniec")
        .slot("survey_outcome", "stopped")
        .form(None)
        # A later visit: only a comment, no survey.
        .session()
        .user("hej")
        .slot("extra_comment", "dodatkowo: paczka ok")
    )
    carol = (
        Conversation("carol", "facebook", start=1_700_200_000.0)
        .session()
        .user("/start")
        .slot("touchpoint", "store")
        .form()
        .slot("nps_score", 7)
        .slot("drivers", ["staff:pos", "staff:pos"])
        .user("/restart")
        .restart()
        .session()
        .user("hej")
        .form()
        .slot("nps_score", 10)
    )
    dave = Conversation("dave", "rest", start=1_700_300_000.0).session().user("hi").bot("Cześć!")
    return [alice, bob, carol, dave]


def test_hand_built_conversations(tracker_url, projection_target):
    write(tracker_url, *hand_built())
    proj, result = _project(tracker_url, projection_target)
    assert result.mode == "rebuild"
    df = proj.read_table(schema.responses).sort_values("response_id").reset_index(drop=True)
    # Four surveys: alice, bob (first visit), carol twice; dave never started one.
    assert df["person"].tolist() == [person(s) for s in ("alice", "48600100200", "carol", "carol")]
    assert df["nps_score"].tolist() == [3, 9, 7, 10]  # alice's 8 after the fix is not her NPS score
    assert df["nps_group"].tolist() == ["detractor", "promoter", "passive", "promoter"]
    assert df["channel"].tolist() == ["rest", "whatsapp", "facebook", "facebook"]
    assert df["touchpoint"].tolist()[2:] == ["store", None]  # slots reset by the restart
    assert df["survey_outcome"].tolist()[:2] == ["finished", "stopped"]
    assert df["survey_outcome"].isna().tolist()[2:] == [True, True]
    assert df["closed"].tolist() == [False, True, True, False]
    assert df.loc[1, "reason"] is None  # bob's carried-over "stare" ignored
    assert df.loc[0, "nps_score_after"] == 8 and df.loc[0, "contact_consent"] == False  # noqa: E712
    alice_id = int(df.loc[0, "response_id"])
    mentions = proj.read_table(schema.driver_mentions).sort_values(["response_id", "position"])
    assert [tuple(r) for r in mentions[["driver", "polarity"]].itertuples(index=False)] == [
        ("delivery", "neg"),
        ("price", "neg"),
        ("staff", "pos"),
    ]  # last drivers value; duplicates once
    whys = proj.read_table(schema.why_answers)
    assert whys["answer"].tolist() == ["bo czekałem cały dzień"]
    offers = proj.read_table(schema.known_issue_offers)
    assert offers.to_dict("records") == [
        {
            "response_id": alice_id,
            "position": 0,
            "known_issue": "parcel_locker_code",
            "issue_resolved": True,
            "score_before": 3,
            "score_after": 8,
        }
    ]
    extra = proj.read_table(schema.extra_comments)
    assert extra["comment"].tolist() == ["dodatkowo: paczka ok"]
    assert extra["person"].tolist() == [person("48600100200")]
    # Nothing new: nothing to do.
    assert proj.update(tracker_engine(tracker_url)).mode == "unchanged"


def test_generated_store_matches_the_plan(tmp_path):
    url = f"sqlite:///{tmp_path / 't.db'}"
    plans = generate(writable_engine(url), 400, seed=3, end=1_750_000_000.0)
    proj, _ = _project(url, (f"sqlite:///{tmp_path / 'a.db'}", None))
    df = proj.read_table(schema.responses, where=schema.responses.c.role == schema.CUSTOMER)
    df = df.sort_values("response_id")
    assert len(df) == len(plans)
    mentions = proj.read_table(schema.driver_mentions)
    whys = proj.read_table(schema.why_answers)
    # The generator writes conversations in time order, so response ids follow the plans.
    for plan, row in zip(plans, df.itertuples(), strict=False):
        assert row.person == person(plan.sender_id)
        assert (None if row.nps_score != row.nps_score else row.nps_score) == plan.score
        assert row.survey_outcome == plan.outcome
        assert row.channel == plan.channel
        depth = None if row.why_depth != row.why_depth else row.why_depth  # NaN: none
        assert (depth, row.why_stop, row.why_driver) == (
            plan.why_depth,
            plan.why_stop,
            plan.why_driver,
        )
        got = mentions[mentions.response_id == row.response_id].sort_values("position")
        assert [f"{d}:{p}" for d, p in zip(got.driver, got.polarity, strict=False)] == plan.drivers
        assert (
            whys[whys.response_id == row.response_id].sort_values("position")["answer"].tolist()
            == plan.why_chain
        )


def _all_rows(url):
    engine = tracker_engine(url) if url.startswith("sqlite") else writable_engine(url)
    with engine.connect() as conn:
        rows = (
            conn.execute(sa.select(tracker_source.events).order_by(tracker_source.events.c.id))
            .mappings()
            .all()
        )
    return [{k: v for k, v in r.items() if k != "id"} for r in rows]


def test_incremental_equals_rebuild(tmp_path, tracker_url, projection_target):
    # Source conversations, then fed to the store under test in slices that
    # cut conversations anywhere, updating the projection after each slice.
    source = f"sqlite:///{tmp_path / 'source.db'}"
    generate(writable_engine(source), 300, seed=11, end=1_750_000_000.0)
    rows = _all_rows(source)
    rng = random.Random(5)
    cuts = sorted(rng.sample(range(1, len(rows)), 7)) + [len(rows)]
    engine = writable_engine(tracker_url)
    tracker_source.create_events_table(engine)
    start = 0
    modes = []
    for cut in cuts:
        with engine.begin() as conn:
            tracker_source.insert_events(conn, rows[start:cut])
        start = cut
        _, result = _project(tracker_url, projection_target)
        modes.append(result.mode)
    assert modes[0] == "rebuild" and set(modes[1:]) == {"incremental"}
    proj = Projection(writable_engine(projection_target[0]), projection_target[1])
    incremental = _snapshot(proj)
    _, result = _project(tracker_url, projection_target, rebuild=True)
    assert result.mode == "rebuild"
    rebuilt = _snapshot(proj)
    assert incremental == rebuilt
    assert len(rebuilt["responses"]) > 250 and len(rebuilt["driver_mentions"]) > 200


def test_other_store_triggers_rebuild(tmp_path):
    a, b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    generate(writable_engine(a), 30, seed=1, end=1_750_000_000.0)
    generate(writable_engine(b), 20, seed=2, end=1_750_000_000.0)
    target = (f"sqlite:///{tmp_path / 'p.db'}", None)
    proj, r1 = _project(a, target)
    _, r2 = _project(b, target)
    assert r1.mode == r2.mode == "rebuild"
    only_b = _snapshot(proj)
    fresh, _ = _project(b, (f"sqlite:///{tmp_path / 'fresh.db'}", None))
    assert only_b == _snapshot(fresh)


def test_tracker_store_is_only_read(tmp_path):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    generate(writable_engine(url), 50, seed=4, end=1_750_000_000.0)
    before = hashlib.sha256((tmp_path / "tracker.db").read_bytes()).hexdigest()
    _project(url, (f"sqlite:///{tmp_path / 'p.db'}", None))
    assert hashlib.sha256((tmp_path / "tracker.db").read_bytes()).hexdigest() == before
    with pytest.raises(sa.exc.OperationalError, match="readonly"):
        with tracker_engine(url).begin() as conn:
            conn.execute(tracker_source.events.delete())


def test_bad_sources(tmp_path):
    with pytest.raises(AnalyticsError, match="not found"):
        tracker_engine(f"sqlite:///{tmp_path / 'missing.db'}")
    empty = tmp_path / "empty.db"
    writable_engine(f"sqlite:///{empty}").connect().close()
    with pytest.raises(AnalyticsError, match="no `events` table"):
        _project(f"sqlite:///{empty}", (f"sqlite:///{tmp_path / 'p.db'}", None))
    with pytest.raises(AnalyticsError, match="not a database URL"):
        tracker_engine("nonsense")
    with pytest.raises(AnalyticsError, match="unsupported"):
        tracker_engine("mysql://x@localhost/db")


def test_forget_removes_a_sender_everywhere(tmp_path, capsys):
    from analytics.__main__ import main

    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    write(url, *hand_built())
    target = f"sqlite:///{tmp_path / 'p.db'}"
    proj, _ = _project(url, (target, None))
    alice = int(
        proj.read_table(schema.responses)
        .query(f"person == '{person('alice')}'")["response_id"]
        .iloc[0]
    )
    assert (
        main(["forget", "--sender", "alice", "--sender", "48600100200", "--analytics-db", target])
        == 0
    )
    assert "removed 2 sender(s)" in capsys.readouterr().out
    assert set(proj.read_table(schema.responses)["person"]) == {person("carol")}
    for table in (schema.driver_mentions, schema.why_answers, schema.known_issue_offers):
        assert alice not in set(proj.read_table(table)["response_id"])
    assert proj.read_table(schema.extra_comments).empty  # bob's comment went too


def _slot(i, name, value, sender="s"):
    return (i, sender, "slot", float(i), name, None, value, None)


def test_segments_record_the_driver_the_first_why_probed():
    # Pure: events as tuples, no database. A detractor who praised the staff
    # is asked a generic why; a problem named in the answer changes the next
    # question, not what the first one probed.
    from analytics.segments import Rows, build_segments

    events = [
        (1, "s", "session_started", 1.0, None, None, None, None),
        (2, "s", "user", 2.0, None, "rest", None, None),
        (3, "s", "active_loop", 3.0, "survey_form", None, None, None),
        _slot(4, "nps_score", 2),
        _slot(5, "drivers", ["staff:pos"]),
        _slot(6, "requested_slot", "why_answer"),
        _slot(7, "why_chain", ["bo tak"]),
        _slot(8, "drivers", ["staff:pos", "price:neg"]),
        _slot(9, "requested_slot", "why_answer"),
        (10, "s", "session_started", 10.0, None, None, None, None),
        (11, "s", "user", 11.0, None, "rest", None, None),
        (12, "s", "active_loop", 12.0, "survey_form", None, None, None),
        _slot(13, "drivers", ["staff:pos", "delivery:neg", "price:neg"]),
        _slot(14, "requested_slot", "why_answer"),
    ]
    rows = Rows(person)
    build_segments(events, rows)
    assert [r["probed_driver"] for r in rows.responses] == [None, "delivery"]
    # Rows are put in the table's column order, whatever the dict's order.
    assert rows.tuples(schema.responses)[0][0] == 1
    assert len(rows.tuples(schema.responses)[0]) == len(schema.responses.columns)


def test_root_causes_file_generic_chains_apart(tmp_path):
    from analytics.dataset import load_dataset
    from analytics.drivers import GENERIC, root_causes

    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    praised = (
        Conversation("eve")
        .session()
        .user("hej")
        .form()
        .slot("nps_score", 4)
        .user("miła obsługa")
        .slot("drivers", ["staff:pos"])
        .slot("requested_slot", "why_answer")
        .user("bo tak")
        .slot("why_chain", ["bo tak"])
    )
    write(url, *hand_built(), praised)
    proj, _ = _project(url, (f"sqlite:///{tmp_path / 'p.db'}", None))
    causes = root_causes(load_dataset(proj)).set_index("chain")["driver"]
    # alice complained about the delivery before her first why; eve only
    # praised the staff, so the bot asked her generic whys.
    assert causes.to_dict() == {"bo tak": GENERIC, "bo czekałem cały dzień": "delivery"}


def test_a_broken_trainer_file_shows_ids_and_one_line(tmp_path):
    from analytics.drivers import load_catalogue

    (tmp_path / "drivers.yml").write_text("drivers:\n  - id: price\n    label: Cena\n")
    (tmp_path / "known_issues.yml").write_text("known_issues:\n  - id: x\n")
    catalogue = load_catalogue(tmp_path / "drivers.yml", tmp_path / "known_issues.yml")
    assert catalogue.label("price") == "Cena" and catalogue.issues == {}
    assert len(catalogue.problems) == 1 and "known_issues.yml" in catalogue.problems[0]
    missing = load_catalogue(tmp_path / "none.yml", tmp_path / "known_issues.yml")
    assert missing.labels == {} and "none.yml" in missing.problems[0]
