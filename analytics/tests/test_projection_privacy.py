"""What the projection stores about people: pseudonyms instead of sender
ids, strings bounded to their columns (one hostile value cannot stop every
update on PostgreSQL), no "Try the bot" chats, and a rebuild when the key or
the schema version changes."""

from __future__ import annotations

import sqlalchemy as sa

from analytics import pseudonym, schema
from analytics.db import tracker_engine, writable_engine
from analytics.projection import Projection
from analytics.tests.conftest import Conversation, person, write


def _project(tracker_url, target, key=None):
    url, schema_name = target
    proj = Projection(writable_engine(url), schema_name, key=key)
    return proj, proj.update(tracker_engine(tracker_url))


def _survey(sender, channel="whatsapp", start=1_700_000_000.0, touchpoint=None, reason="drogo"):
    c = Conversation(sender, channel, start=start).session().user("cześć").form()
    if touchpoint is not None:
        c.slot("touchpoint", touchpoint)
    return (
        c.slot("nps_score", 4)
        .user(reason)
        .slot("reason", reason)
        .slot("drivers", ["price:neg"])
        .form(None)
        .slot("survey_outcome", "finished")
    )


def _all_text(proj: Projection) -> str:
    out = []
    with proj.engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                out.extend(str(v) for v in row)
    return "\n".join(out)


def test_no_raw_sender_id_is_stored(tracker_url, projection_target):
    phone = "whatsapp:+48600100200"
    comment_only = (
        Conversation("+48600999888", "twilio", start=1_700_200_000.0)
        .session()
        .user("chciałem tylko dodać")
        .slot("extra_comment", "paczka ok")
    )
    write(tracker_url, _survey(phone), comment_only)
    proj, result = _project(tracker_url, projection_target)
    assert result.responses == 1
    stored = _all_text(proj)
    for raw in ("48600100200", "48600999888"):
        assert raw not in stored
    responses = proj.read_table(schema.responses)
    assert responses["person"].tolist() == [person(phone)]
    assert len(person(phone)) >= len(pseudonym.PREFIX) + 16
    comments = proj.read_table(schema.extra_comments)
    assert comments["person"].tolist() == [person("+48600999888")]


def test_hostile_values_are_bounded_and_the_update_never_fails(tracker_url, projection_target):
    # A typed /give_score{"touchpoint": …} of 300 characters and a REST
    # client's 100-character input_channel: on PostgreSQL either used to
    # fail every later update (VARCHAR(255) / VARCHAR(64)).
    long_touchpoint = "=HYPERLINK(" + "x" * 289
    write(
        tracker_url,
        _survey("rest:a", channel="c" * 100, touchpoint=long_touchpoint),
        _survey("rest:b", channel="rest", touchpoint="Store", start=1_700_100_000.0),
        _survey("rest:c", channel="rest", touchpoint="a" * 300, start=1_700_200_000.0),
        _survey(
            "rest:d",
            channel="socketio",
            start=1_700_300_000.0,
            reason="nul\x00byte " + "k" * 10_000,
        ).slot("known_issue", "i" * 400),
    )
    proj, result = _project(tracker_url, projection_target)
    assert result.responses == 4
    df = proj.read_table(schema.responses).sort_values("response_id")
    assert df["channel"].tolist() == ["other", "rest", "rest", "socketio"]
    # Only short ids survive nps.flow.clean_touchpoint, lower-cased.
    assert df["touchpoint"].tolist() == [None, "store", None, None]
    d = df.iloc[3]
    # (SQLite's json_extract itself stops at the NUL; PostgreSQL hands it over.)
    assert "\x00" not in d["reason"] and d["reason"].startswith("nul")
    assert len(d["known_issue"]) == 255
    # A later event still projects (the store is not stuck).
    write(tracker_url, _survey("rest:e", channel="rest", start=1_700_400_000.0))
    assert proj.update(tracker_engine(tracker_url)).mode == "incremental"
    assert len(proj.read_table(schema.responses)) == 5


def test_try_the_bot_chats_are_never_counted(tracker_url, projection_target):
    write(
        tracker_url,
        _survey("rest:try-0123abcd", channel="rest"),
        _survey("dashboard-0123abcd", channel="rest", start=1_700_050_000.0),
        _survey("rest:customer", channel="rest", start=1_700_100_000.0),
    )
    proj, result = _project(tracker_url, projection_target)
    assert proj.read_table(schema.responses)["person"].tolist() == [person("rest:customer")]
    # Incremental updates skip them too.
    write(tracker_url, _survey("rest:try-ffff", channel="rest", start=1_700_200_000.0))
    assert proj.update(tracker_engine(tracker_url)).mode == "incremental"
    assert len(proj.read_table(schema.responses)) == 1


def test_another_key_or_an_old_schema_rebuilds(tmp_path):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    target = (f"sqlite:///{tmp_path / 'p.db'}", None)
    write(url, _survey("whatsapp:+48600100200"))
    proj, result = _project(url, target, key=b"k" * 32)
    assert result.mode == "rebuild"
    assert _project(url, target, key=b"k" * 32)[1].mode == "unchanged"
    other, result = _project(url, target, key=b"z" * 32)
    assert result.mode == "rebuild"
    assert other.read_table(schema.responses)["person"].tolist() == [
        pseudonym.pseudonym("whatsapp:+48600100200", b"z" * 32)
    ]
    # A projection written by the previous schema (raw sender_id column) is
    # dropped and rebuilt.
    with other.engine.begin() as conn:
        conn.execute(
            schema.projection_state.update()
            .where(schema.projection_state.c.key == "schema_version")
            .values(value="2")
        )
    again = Projection(writable_engine(target[0]), None, key=b"z" * 32)
    assert again.update(tracker_engine(url)).mode == "rebuild"
