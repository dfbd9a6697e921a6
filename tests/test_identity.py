"""One identity per conversation: ids keyed by channel, and every form of a
person's id found for erasure."""

from __future__ import annotations

import re

import pytest

from nps.identity import IdentityError, conversation_id, log_id, person_ids, platform_id, split
from nps.text import cap


@pytest.mark.parametrize(
    ("channel", "raw", "expected"),
    [
        ("whatsapp", "48600100200", "whatsapp:+48600100200"),  # Cloud API's wa_id
        ("whatsapp", "whatsapp:+48600100200", "whatsapp:+48600100200"),  # Twilio
        ("sms", "+48600100200", "sms:+48600100200"),
        ("sms", "0048 600 100 200", "sms:+48600100200"),
        ("messenger", "6543210987654321", "messenger:6543210987654321"),
        ("web", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "web:1b4e28ba-2fa1-11d2-883f-0016d3cca427"),
        ("rest", "ania", "rest:ania"),
    ],
)
def test_each_channel_keys_its_own_conversations(channel, raw, expected):
    assert conversation_id(channel, raw) == expected
    assert split(expected)[0] == channel


@pytest.mark.parametrize(
    ("channel", "raw"),
    [("telegram", "1"), ("sms", "12"), ("rest", ""), ("rest", "a b"), ("web", "x\x00")],
)
def test_what_cannot_key_a_conversation_is_refused(channel, raw):
    with pytest.raises(IdentityError):
        conversation_id(channel, raw)


def test_a_rest_sender_cannot_name_another_channels_conversation():
    # Whatever a REST client sends as its sender, the id stays in rest:.
    assert conversation_id("rest", "whatsapp:+48600100200") == "rest:whatsapp:+48600100200"
    assert split("rest:whatsapp:+48600100200") == ("rest", "whatsapp:+48600100200")


def test_outbound_sends_to_the_platform_id():
    assert platform_id("whatsapp:+48600100200") == "+48600100200"
    assert platform_id("messenger:123") == "123"
    assert platform_id("legacy-id") == "legacy-id"


@pytest.mark.parametrize(
    "person",
    [
        "48600100200",
        "+48 600 100 200",
        "whatsapp:+48600100200",
        "sms:+48600100200",
        "0048600100200",
    ],
)
def test_a_phone_number_in_any_form_finds_every_stored_form(person):
    assert person_ids(person) >= {
        "whatsapp:+48600100200",
        "sms:+48600100200",
        "+48600100200",
        "48600100200",
    }
    # Nothing that is not this person: only forms of the same number.
    assert all(re.sub(r"\D", "", form).endswith("48600100200") for form in person_ids(person))


def test_a_platform_id_finds_its_prefixed_and_legacy_forms():
    found = person_ids("messenger:6543210987654321")
    assert {"messenger:6543210987654321", "6543210987654321"} <= found
    assert person_ids("6543210987654321") >= {"messenger:6543210987654321", "6543210987654321"}
    with pytest.raises(IdentityError):
        person_ids("  ")


def test_cap_cuts_long_messages_at_a_word_when_it_can():
    assert cap("krótko", 100) == ("krótko", False)
    text, cut = cap("słowo " * 100, 50)
    assert cut and len(text) <= 50 and text.endswith("słowo")
    assert cap("x" * 500, 100) == ("x" * 100, True)


def test_a_log_id_is_made_for_any_text_a_client_sends():
    # A lone surrogate (valid in a Python str, not in UTF-8) must not break logging.
    odd = "rest:\ud800x"
    assert log_id(odd).startswith("rest:#") and log_id(odd) != log_id("rest:x")
