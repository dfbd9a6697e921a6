"""The synthetic generator speaks the bot's language: every name it writes
is in the domain, it walks every branch of nps/flow.py, and the root causes
analytics assigns are the drivers the bot probed."""

from __future__ import annotations

import collections
import json

import pytest
import sqlalchemy as sa

from analytics import rasa_events, tracker_source
from analytics.dataset import load_dataset
from analytics.db import tracker_engine, writable_engine
from analytics.drivers import GENERIC, root_causes
from analytics.generate import BotModel, _max_whys, generate
from analytics.projection import Projection
from analytics.tests.conftest import person
from nps.domain import load_domain, names
from nps.drivers import NEGATIVE, main_negative, split_tag
from nps.groups import nps_group as nps_group_of
from nps.settings import load_settings
from nps.why_stops import WHY_STOPS

END = 1_750_000_000.0


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """(tracker URL, plans, events per sender in order) of 1500 conversations."""
    url = f"sqlite:///{tmp_path_factory.mktemp('gen') / 'tracker.db'}"
    plans = generate(writable_engine(url), 1500, seed=7, end=END)
    with tracker_engine(url).connect() as conn:
        rows = conn.execute(
            sa.select(tracker_source.events).order_by(tracker_source.events.c.id)
        ).mappings()
        by_sender: dict[str, list[dict]] = collections.defaultdict(list)
        for row in rows:
            by_sender[row["sender_id"]].append(dict(row, data=json.loads(row["data"])))
    return url, plans, by_sender


def test_every_name_the_generator_writes_is_in_the_domain(store):
    _, _, by_sender = store
    domain = load_domain(load_settings().domain_path)
    written = collections.defaultdict(set)
    for events in by_sender.values():
        for row in events:
            data = row["data"]
            if row["type_name"] == "user":
                written["intents"].add(row["intent_name"])
                written["entities"].update(e["entity"] for e in data["parse_data"]["entities"])
            elif row["type_name"] == "action":
                written["actions"].add(data["name"])
            elif row["type_name"] == "slot":
                written["slots"].add(data["name"])
            elif row["type_name"] == "active_loop" and data["name"] is not None:
                written["forms"].add(data["name"])
            elif row["type_name"] == "bot" and data["metadata"].get("utter_action"):
                written["responses"].add(data["metadata"]["utter_action"])
    allowed = {
        "intents": names(domain, "intents") | rasa_events.RASA_INTENTS,
        "entities": names(domain, "entities"),
        "actions": names(domain, "actions") | names(domain, "forms") | rasa_events.RASA_ACTIONS,
        "slots": names(domain, "slots") | rasa_events.RASA_SLOTS,
        "forms": names(domain, "forms"),
        "responses": names(domain, "responses"),
    }
    for kind, found in written.items():
        assert found <= allowed[kind], f"{kind} not in the domain: {found - allowed[kind]}"
    # And the bot's own parts are really used, not only allowed.
    assert {"survey_form", "comment_form"} <= written["forms"]
    assert {"action_save_comment", "action_finish_survey", "action_stop_survey"} <= written[
        "actions"
    ]
    assert {"give_score", "feedback", "affirm", "deny", "done", "stop"} <= written["intents"]


def _employee(events: list[dict]) -> bool:
    """An employee's mirror survey (the bot set `role` to "employee")."""
    return any(
        e["type_name"] == "slot"
        and e["data"]["name"] == "role"
        and e["data"]["value"] == "employee"
        for e in events
    )


def _probes(events: list[dict]) -> list[tuple[str, str | None]]:
    """(why chain, probed driver) per survey, read straight from the events:
    the driver the last "why?" probed (`why_driver`, last value) when the
    bot set it, else main_negative of the `drivers` slot at the moment the
    form first set `requested_slot` to why_answer (the first "why?")."""
    out = []
    drivers, probed, asked, chain, last = [], None, False, [], None

    def close():
        if chain:
            out.append((" → ".join(chain), last or probed))

    for row in events:
        kind, data = row["type_name"], row["data"]
        if kind in tracker_source.BOUNDARY_TYPES:
            close()
            drivers, probed, asked, chain, last = [], None, False, [], None
        elif kind == "slot" and data["name"] == "drivers":
            drivers = data["value"] or []
        elif kind == "slot" and data["name"] == "why_driver":
            last = data["value"]
        elif kind == "slot" and data["name"] == "why_chain":
            chain = data["value"] or []
        elif kind == "slot" and data["name"] == "requested_slot":
            if data["value"] == "why_answer" and not asked:
                asked, probed = True, main_negative(drivers)
    close()
    return out


def test_root_causes_are_the_drivers_the_bot_probed(store, tmp_path):
    url, plans, by_sender = store
    projection = Projection(writable_engine(f"sqlite:///{tmp_path / 'p.db'}"))
    projection.update(tracker_engine(url))
    ds = load_dataset(projection)
    causes = root_causes(ds)
    senders = ds.responses.set_index("response_id")["person"]
    got = collections.Counter(
        (senders[r.response_id], r.chain, r.driver) for r in causes.itertuples()
    )
    expected = collections.Counter(
        (person(sender), chain, GENERIC if probed is None else probed)
        for sender, events in by_sender.items()
        if not _employee(events)  # staff's whys are no customer's root causes
        for chain, probed in _probes(events)
    )
    assert got == expected

    # Every branch is in the sample, the one that used to go wrong included.
    groups = ds.responses.set_index("response_id")["nps_group"]
    final = {
        rid: [f"{d}:{p}" for d, p in zip(part["driver"], part["polarity"], strict=True)]
        for rid, part in ds.mentions.sort_values("position").groupby("response_id")
    }
    generic = causes[causes["driver"] == GENERIC]
    assert set(groups[generic["response_id"]]) == {"detractor"}
    praised = [
        rid for rid in generic["response_id"] if any(t.endswith(":pos") for t in final.get(rid, []))
    ]
    assert praised, "no detractor who only praised a driver was asked generic whys"
    # ... and when a why-answer named a problem later, the next "why?" was
    # about it (why_driver): a chain begun generically is filed under it.
    began_generic = set(ds.responses.loc[ds.responses["probed_driver"].isna(), "response_id"])
    followed = causes[causes["response_id"].isin(began_generic) & (causes["driver"] != GENERIC)]
    assert len(followed)
    probed = causes[causes["driver"] != GENERIC]
    assert {"detractor", "passive"} <= set(groups[probed["response_id"]])
    # Passives who named nothing negative are not asked why at all.
    passives = groups[groups == "passive"].index
    calm = [rid for rid in passives if main_negative(final.get(rid)) is None]
    assert calm and not set(calm) & set(causes["response_id"])
    # No chain is filed under a driver its respondent only praised.
    for row in probed.itertuples():
        polarities = {
            split_tag(t)[1] for t in final[row.response_id] if t.startswith(row.driver + ":")
        }
        assert NEGATIVE in polarities


def test_why_chains_end_as_the_bot_ends_them(store):
    _, plans, by_sender = store
    max_whys = _max_whys(load_settings())  # NPS_MAX_WHYS, else the trainers' why_limit
    ended = [p for p in plans if p.why_stop is not None]
    assert {p.why_stop for p in ended} == set(WHY_STOPS)
    for p in ended:
        # Every answer kept is counted; answers without content are not kept.
        assert p.why_depth == len(p.why_chain)
        assert p.why_depth <= max_whys
        if p.why_stop == "limit":  # (a fifth answer can still be specific)
            assert p.why_depth == max_whys
        if p.why_stop == "known_issue":
            assert p.known_issue is not None
        if p.why_stop in ("specific", "known_issue"):
            assert p.why_depth >= 1  # the answer that reached the cause is kept
        assert nps_group_of(p.score) != "promoter"
    # A promoter is never probed; nor is a chain's end written without a chain.
    for p in plans:
        if nps_group_of(p.score) == "promoter":
            assert (p.why_depth, p.why_stop, p.why_driver, p.why_chain) == (None, None, None, [])
        if p.why_stop is None:
            assert p.why_depth is None
    # A chain that moved on to another driver: the last probe differs from the first.
    assert any(
        p.why_driver and p.why_driver != main_negative(p.drivers[:1]) for p in ended if p.drivers
    )
    # After an answer without content the bot asks for a few words.
    said = {
        e["data"]["metadata"].get("utter_action")
        for events in by_sender.values()
        for e in events
        if e["type_name"] == "bot"
    }
    assert "utter_why_clarify" in said


def test_every_branch_of_the_survey_is_written(store):
    _, plans, by_sender = store
    outcomes = collections.Counter(p.outcome for p in plans)
    assert outcomes["finished"] and outcomes["stopped"] and outcomes[None]
    assert any(p.score is None and p.outcome == "finished" for p in plans)
    resolved = {p.issue_resolved for p in plans if p.known_issue}
    assert resolved >= {True, False}
    assert any(p.score_after is not None for p in plans)
    assert any(p.restarted for p in plans)
    bot = BotModel.load()
    assert {p.known_issue for p in plans if p.known_issue} <= {i.id for i in bot.known_issues}
    drivers = {split_tag(t)[0] for p in plans for t in p.drivers}
    assert drivers <= set(bot.catalogue)
    # Someone surveyed recently gets the comment form, as the bot does.
    comments = [
        e
        for events in by_sender.values()
        for e in events
        if e["type_name"] == "slot" and e["data"]["name"] == "extra_comment"
    ]
    assert comments
    # The questions are asked in the order nps.flow decides: a promoter is
    # never asked why, nor a detractor what they value most.
    for events in by_sender.values():
        group, asked = None, []
        for e in events:
            if e["type_name"] in tracker_source.BOUNDARY_TYPES:
                group, asked = None, []
            elif e["type_name"] == "slot" and e["data"]["name"] == "nps_group":
                group = e["data"]["value"]
            elif e["type_name"] == "slot" and e["data"]["name"] == "requested_slot":
                asked.append(e["data"]["value"])
                if group == "promoter":
                    assert "why_answer" not in asked and "contact_consent" not in asked
                if group == "detractor":
                    assert "valued_most" not in asked and "improvement" not in asked


def test_the_generator_follows_the_resurvey_setting(tmp_path, monkeypatch):
    # With no cool-down nobody is sent to the comment form.
    monkeypatch.setenv("NPS_RESURVEY_DAYS", "0")
    url = f"sqlite:///{tmp_path / 't.db'}"
    generate(writable_engine(url), 300, seed=7, end=END)
    with tracker_engine(url).connect() as conn:
        loops = conn.execute(
            sa.select(tracker_source.events.c.action_name).where(
                tracker_source.events.c.type_name == "active_loop"
            )
        ).scalars()
        assert "comment_form" not in set(loops)
