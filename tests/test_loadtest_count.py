"""The load test's count (bench/loadtest.py, ``count_messages``) on a hand-made
events table: one conversation of each kind of failure, one the platform
reordered, and a clean one."""

from __future__ import annotations

import math

from bench.loadtest import count_messages, percentile


def user(message_id):
    return {"event": "user", "text": "x", "message_id": message_id}


def bot(response):
    return {"event": "bot", "text": "y", "metadata": {"utter_action": response}}


START = [{"event": "action", "name": "action_session_start"}, {"event": "session_started"}]

SENT = {
    "messenger:1": ["a1", "a2", "a3"],  # clean
    "messenger:2": ["b1", "b2"],  # b2 acknowledged, never stored: lost
    "whatsapp:+48600000003": ["c1", "c2"],  # c2 stored twice: duplicated
    "whatsapp:+48600000004": ["d1", "d2", "d3"],  # d3 stored before d2: one out of order
    "whatsapp:+48600000007": ["k1", "k2"],  # k2 overtook k1 in redelivery: the platform's order
    "messenger:5": ["e1", "e2"],  # a second session start and intro: restarted
    "messenger:6": ["f1"],  # never acknowledged, not stored
}
# Each message posted at second 10 * its number in the conversation, acknowledged
# 1 s later (a second copy's later 2xx does not change the first).
POSTED = {i: 10.0 * int(i[1]) for ids in SENT.values() for i in ids}
ACKNOWLEDGED = {i: POSTED[i] + 1 for i in POSTED if i != "f1"}
# k1 waited for a redelivery: acknowledged only after k2 was posted and stored.
ACKNOWLEDGED["k1"] = POSTED["k2"] + 5


def rows():
    table = {
        "messenger:1": [*START, user("a1"), bot("utter_intro"), user("a2"), user("a3")],
        "messenger:2": [*START, user("b1"), bot("utter_intro")],
        "whatsapp:+48600000003": [*START, user("c1"), bot("utter_intro"), user("c2"), user("c2")],
        "whatsapp:+48600000004": [*START, user("d1"), bot("utter_intro"), user("d3"), user("d2")],
        "messenger:5": [
            *START,
            user("e1"),
            bot("utter_intro"),
            *START,
            user("e2"),
            bot("utter_intro"),
        ],
        "messenger:6": [],
        "whatsapp:+48600000007": [*START, user("k2"), bot("utter_intro"), user("k1")],
        "messenger:other": [user("zz")],  # someone else's conversation: not counted
    }
    # Interleave the conversations, as a shared events table stores them.
    longest = max(len(events) for events in table.values())
    return [
        (sender, events[i])
        for i in range(longest)
        for sender, events in table.items()
        if i < len(events)
    ]


def test_each_failure_is_counted_once_where_it_happened():
    count = count_messages(SENT, ACKNOWLEDGED, rows(), POSTED)
    assert count.conversations == 7
    assert count.sent == 15
    assert count.acknowledged == 14
    assert count.unacknowledged == 1
    assert count.dropped == 1  # f1: never acknowledged, never stored
    assert count.stored == 13  # every id but b2 and f1
    assert count.lost == 1
    assert count.duplicated == 1
    assert count.out_of_order == 1
    assert count.platform_reordered == 1
    assert count.restarted == 1
    assert count.foreign == 0
    assert count.failures == 5
    assert count.examples["lost"] == ["messenger:2"]
    assert count.examples["duplicated"] == ["whatsapp:+48600000003"]
    assert count.examples["out of order"] == ["whatsapp:+48600000004"]
    assert count.examples["restarted"] == ["messenger:5"]
    assert count.examples["dropped"] == ["messenger:6"]
    assert count.examples["reordered by the platform"] == ["whatsapp:+48600000007"]


def test_a_clean_run_has_no_failures():
    sent = {"messenger:1": SENT["messenger:1"]}
    count = count_messages(sent, ACKNOWLEDGED, rows(), POSTED)
    assert (count.stored, count.failures, count.examples) == (3, 0, {})


def test_stored_but_never_acknowledged_is_not_a_failure():
    sent = {"messenger:8": ["j1"]}
    count = count_messages(sent, {}, [("messenger:8", user("j1"))], {"j1": 0.0})
    assert (count.unacknowledged, count.dropped, count.stored, count.failures) == (1, 0, 1, 0)


def test_a_restart_event_and_an_unknown_id_in_our_conversation():
    sent = {"messenger:9": ["g1"]}
    events = [
        ("messenger:9", user("g1")),
        ("messenger:9", {"event": "restart"}),
        ("messenger:9", user("unknown")),
    ]
    count = count_messages(sent, {"g1": 1.0}, events)
    assert (count.restarted, count.foreign, count.lost) == (1, 1, 0)


def test_a_duplicate_stored_late_is_not_also_out_of_order():
    sent = {"messenger:7": ["h1", "h2"]}
    events = [("messenger:7", user(i)) for i in ("h1", "h2", "h1")]
    count = count_messages(sent, {"h1": 1.0, "h2": 2.0}, events)
    assert (count.duplicated, count.out_of_order) == (1, 0)


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, q) for q in (50, 95, 99)] == [50.0, 95.0, 99.0]
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
