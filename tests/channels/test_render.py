"""Table tests of channels/render.py: every payload within platform limits."""

import pytest

from channels import render
from channels.render import (
    Texts,
    chunk_text,
    messenger_messages,
    numeric_scale,
    sms_messages,
    truncate,
    whatsapp_messages,
)

SCALE = [{"title": str(i), "payload": str(i)} for i in range(11)]
YES_NO = [{"title": "Tak", "payload": "/affirm"}, {"title": "Nie", "payload": "/deny"}]
DRIVERS = [
    {"title": t, "payload": f'/inform{{"d":"{i}"}}'}
    for i, t in enumerate(
        [
            "Ceny",
            "Dostawa",
            "Obsługa w sklepie",
            "Jakość produktów",
            "Kontakt z obsługą klienta i reklamacje",
        ]
    )
]
MANY = [{"title": f"Opcja {i}", "payload": f"/o{i}"} for i in range(14)]
NPS_Q = "Cześć!\n\nJak bardzo prawdopodobne jest, że nas polecisz? (0-10)"


@pytest.mark.parametrize(
    "buttons,expected",
    [
        (SCALE, (0, 10)),
        (list(reversed(SCALE)), (0, 10)),
        (
            [{"title": "1 - wcale", "payload": "1"}]
            + [{"title": str(i), "payload": str(i)} for i in range(2, 6)],
            (1, 5),
        ),
        (SCALE[:3], None),  # too few to be a scale
        (YES_NO, None),
        (SCALE[:5] + SCALE[6:], None),  # a gap
        ([{"title": "a", "payload": "x"}] + SCALE, None),
    ],
)
def test_numeric_scale(buttons, expected):
    assert numeric_scale(buttons) == expected


@pytest.mark.parametrize(
    "text,limit,expected",
    [
        ("krótki", 10, ["krótki"]),
        ("ala ma kota i psa", 8, ["ala ma", "kota i", "psa"]),
        ("x" * 25, 10, ["x" * 10, "x" * 10, "x" * 5]),
        ("", 5, []),
    ],
)
def test_chunk_text(text, limit, expected):
    assert chunk_text(text, limit) == expected
    assert all(len(p) <= limit for p in chunk_text(text, limit))


def test_truncate_marks_the_cut():
    assert truncate("Kontakt z obsługą klienta", 20) == "Kontakt z obsługą k…"
    assert len(truncate("x" * 50, 24)) == 24
    assert truncate("krótko", 20) == "krótko"


# ------------------------------------------------------------- Messenger


@pytest.mark.parametrize(
    "message,texts,quick_payloads",
    [
        (
            {"text": NPS_Q, "buttons": SCALE},
            ["Cześć!", NPS_Q.split("\n\n")[1]],
            [str(i) for i in range(11)],
        ),
        ({"text": "Pomogło?", "quick_replies": YES_NO}, ["Pomogło?"], ["/affirm", "/deny"]),
        ({"buttons": YES_NO}, [Texts().choose], ["/affirm", "/deny"]),  # QR need a text
        ({"text": "Zwykły tekst"}, ["Zwykły tekst"], None),
    ],
)
def test_messenger(message, texts, quick_payloads):
    out = messenger_messages(message)
    assert [m["text"] for m in out] == texts
    if quick_payloads is None:
        assert all("quick_replies" not in m for m in out)
    else:
        quick = out[-1]["quick_replies"]
        assert [q["payload"] for q in quick] == quick_payloads
        assert len(quick) <= render.MESSENGER_MAX_QUICK_REPLIES
        assert all(len(q["title"]) <= render.MESSENGER_QUICK_REPLY_TITLE_MAX for q in quick)


def test_messenger_long_titles_truncated_and_too_many_listed():
    out = messenger_messages({"text": "Co?", "buttons": DRIVERS})
    assert max(len(q["title"]) for q in out[-1]["quick_replies"]) == 20
    out = messenger_messages({"text": "Co?", "buttons": MANY})  # 14 > 13
    assert "quick_replies" not in out[-1] and "• Opcja 13" in out[-1]["text"]


def test_messenger_long_text_image_custom_and_links():
    out = messenger_messages(
        {
            "text": "słowo " * 700,
            "image": "https://x/y.png",
            "custom": {"text": "raw"},
            "buttons": [{"title": "Opinia", "url": "https://g.co/r"}],
        }
    )
    assert all(len(m.get("text", "")) <= render.MESSENGER_TEXT_MAX for m in out)
    assert "Opinia: https://g.co/r" in out[-3]["text"]
    assert out[-2]["attachment"]["type"] == "image" and out[-1] == {"text": "raw"}


# -------------------------------------------------------------- WhatsApp


def test_whatsapp_scale_is_a_typed_number():
    out, choices = whatsapp_messages({"text": NPS_Q, "buttons": SCALE})
    assert [m["type"] for m in out] == ["text", "text"] and choices == {}
    assert out[-1]["text"]["body"].endswith("liczbę od 0 do 10.")


def test_whatsapp_reply_buttons_within_limits():
    out, choices = whatsapp_messages({"text": "Czy to pomogło?", "buttons": YES_NO})
    (msg,) = out
    assert msg["type"] == "interactive" and msg["interactive"]["type"] == "button"
    assert msg["interactive"]["body"]["text"] == "Czy to pomogło?"
    assert [b["reply"] for b in msg["interactive"]["action"]["buttons"]] == [
        {"id": "/affirm", "title": "Tak"},
        {"id": "/deny", "title": "Nie"},
    ]


def test_whatsapp_list_when_titles_too_long_for_buttons_or_more_than_three():
    out, _ = whatsapp_messages({"text": "Co było najważniejsze?", "buttons": DRIVERS})
    (msg,) = out
    assert msg["interactive"]["type"] == "list"
    rows = msg["interactive"]["action"]["sections"][0]["rows"]
    assert len(rows) == 5 and all(len(r["title"]) <= render.WHATSAPP_ROW_TITLE_MAX for r in rows)
    assert rows[-1]["description"] == "Kontakt z obsługą klienta i reklamacje"
    assert rows[0]["id"] == DRIVERS[0]["payload"]
    assert len(msg["interactive"]["action"]["button"]) <= render.WHATSAPP_LIST_BUTTON_MAX


def test_whatsapp_more_than_ten_is_numbered_text_with_choices():
    out, choices = whatsapp_messages({"text": "Wybierz", "buttons": MANY})
    assert out[-1]["type"] == "text" and "14. Opcja 13" in out[-1]["text"]["body"]
    assert choices["1"] == "/o0" and choices["14"] == "/o13"


def test_whatsapp_long_body_moves_earlier_text_out():
    out, _ = whatsapp_messages({"text": "a " * 1500, "buttons": YES_NO})
    assert out[-1]["type"] == "interactive"
    assert len(out[-1]["interactive"]["body"]["text"]) <= render.WHATSAPP_INTERACTIVE_BODY_MAX
    assert all(len(m["text"]["body"]) <= render.WHATSAPP_TEXT_MAX for m in out[:-1])


def test_whatsapp_payload_too_long_for_an_id_falls_back_to_numbers():
    long = [{"title": "A", "payload": "/x" + "y" * 300}, {"title": "B", "payload": "/b"}]
    out, choices = whatsapp_messages({"text": "?", "buttons": long})
    assert out[-1]["type"] == "text" and choices["1"].startswith("/xyyy")


# ------------------------------------------------------------------- SMS


@pytest.mark.parametrize(
    "message,last_body,choices",
    [
        (
            {"text": NPS_Q, "buttons": SCALE},
            "Jak bardzo prawdopodobne jest, że nas polecisz? (0-10)"
            "\n\nOdpowiedz, wpisując liczbę od 0 do 10.",
            {},
        ),
        (
            {"text": "Pomogło?", "buttons": YES_NO},
            "Pomogło?\n\n1. Tak\n2. Nie\nOdpowiedz numerem lub własnymi słowami.",
            {"1": "/affirm", "2": "/deny"},
        ),
        ({"text": "Dzięki!"}, "Dzięki!", {}),
    ],
)
def test_sms(message, last_body, choices):
    out, got = sms_messages(message)
    assert out[-1]["Body"] == last_body and got == choices


def test_sms_limits_and_custom_texts():
    out, _ = sms_messages({"text": "słowo " * 400})
    assert len(out) == 2 and all(len(m["Body"]) <= render.SMS_BODY_MAX for m in out)
    english = Texts.from_credentials({"scale-hint": "Reply with a number from {lo} to {hi}."})
    out, _ = sms_messages({"text": "How likely?", "buttons": SCALE}, english)
    assert out[-1]["Body"].endswith("Reply with a number from 0 to 10.")


@pytest.mark.parametrize(
    "message",
    [
        {"custom": {"survey_end": True}},  # what the finish and stop actions send
        {"custom": {}},
    ],
)
def test_web_chat_signal_is_no_message_on_platforms(message):
    assert render.messenger_messages(message) == []
    assert render.whatsapp_messages(message) == ([], {})
    assert render.sms_messages(message) == ([], {})


def test_web_chat_signal_is_dropped_from_a_platform_custom_payload():
    custom = {"type": "location", "location": {"latitude": 1}, "survey_end": True}
    (sent,) = render.whatsapp_messages({"custom": custom})[0]
    assert sent == {"type": "location", "location": {"latitude": 1}}
    text_and_signal = {"text": "Dziękuję!", "custom": {"survey_end": True}}
    assert render.messenger_messages(text_and_signal) == [{"text": "Dziękuję!"}]
    assert render.sms_messages(text_and_signal)[0] == [{"Body": "Dziękuję!"}]
