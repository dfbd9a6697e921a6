"""The web chat page in a real headless Chromium, talking to a real `rasa run`
over Rasa's socketio channel: a whole conversation through the page."""

from __future__ import annotations

import re

import pytest

from tests.channels.channel_helpers import (
    http,
    slots,
    texts,
    user_events,
    wait_for,
    wait_until,
    web_conversation,
    web_state,
)

pytestmark = [pytest.mark.browser, pytest.mark.rasa]


def test_conversation_through_the_page(rasa, webchat_url, browser, tmp_path):
    page = f"{webchat_url}/index.html?server={rasa.url}&touchpoint=store"
    browser.get(page)
    try:
        # The page opens the chat, sends the start payload with the touchpoint
        # and shows the 0-10 question with 11 quick replies.
        wait_for(browser, lambda d: len(texts(d, ".npsc-reply")) == 11)
        assert texts(browser, ".npsc-reply") == [str(i) for i in range(11)]
        assert any("polecisz" in t for t in texts(browser, ".npsc-bot"))
        assert texts(browser, ".npsc-user") == []  # the start payload is not shown
        session_id = web_conversation(browser, rasa.url)  # issued by the server

        browser.find_element("xpath", "//button[@class='npsc-reply' and text()='7']").click()
        wait_for(browser, lambda d: texts(d, ".npsc-reply") == ["Tak", "Nie"])
        assert texts(browser, ".npsc-user") == ["7"]

        # Typed text, with HTML in it that must stay text.
        box = browser.find_element("css selector", ".npsc-input")
        box.send_keys("<b>tak</b>\n")
        wait_for(browser, lambda d: "Dziękuję za rozmowę!" in texts(d, ".npsc-bot"))
        assert texts(browser, ".npsc-user")[-1] == "<b>tak</b>"
        assert browser.find_elements("css selector", ".npsc-log b") == []
        assert texts(browser, ".npsc-reply") == []
        loaded = browser.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        assert loaded and all(
            u.startswith(("http://127.0.0.1:", "ws://127.0.0.1:")) for u in loaded
        ), loaded  # no CDN, nothing external

        events = wait_until(lambda: rasa.events(session_id))
        users = user_events(events)
        assert [u["text"] for u in users] == ['/start{"touchpoint":"store"}', "7", "<b>tak</b>"]
        assert {u["input_channel"] for u in users} == {"socketio"}
        assert slots(events)["touchpoint"] == "store"
        assert users[0]["metadata"]["touchpoint"] == "store"
        # The bot said the survey is over: the tab keeps nothing (a shop's
        # tablet shows the next customer no one else's answers) ...
        wait_for(browser, lambda d: web_state(d, rasa.url) is None)
        assert browser.execute_script("return localStorage.length") == 0
        # ... so a reload starts a new conversation, with a new server-issued id
        browser.get(page)
        wait_for(browser, lambda d: len(texts(d, ".npsc-reply")) == 11)
        assert "Dziękuję za rozmowę!" not in texts(browser, ".npsc-bot")
        second = web_conversation(browser, rasa.url)
        assert second != session_id

        # A reload in the middle of a survey keeps the conversation and its history.
        browser.find_element("xpath", "//button[@class='npsc-reply' and text()='3']").click()
        wait_for(browser, lambda d: texts(d, ".npsc-reply") == ["Tak", "Nie"])
        browser.get(page)
        wait_for(browser, lambda d: texts(d, ".npsc-user") == ["3"])
        assert web_conversation(browser, rasa.url) == second
        assert len(user_events(rasa.events(second))) == 2

        # "Nowa rozmowa" forgets it at once and starts another one.
        browser.find_element("css selector", ".npsc-new").click()
        wait_for(browser, lambda d: len(texts(d, ".npsc-reply")) == 11)
        assert texts(browser, ".npsc-user") == []
        third = web_conversation(browser, rasa.url)
        assert third not in (session_id, second)
        assert len(user_events(rasa.events(second))) == 2  # the old one untouched
    finally:
        browser.save_screenshot(str(tmp_path / "webchat.png"))


def test_page_serves_no_cdn_and_no_python(webchat_url):
    html = http("GET", webchat_url + "/index.html").body.decode()
    js = http("GET", webchat_url + "/nps-chat.js")
    assert js.status == 200 and js.headers["content-type"].startswith("text/javascript")
    # every <script> of the page is local (the browser test also checks that
    # every resource the page loaded came from loopback)
    assert re.findall(r'<script src="([^"]+)"', html) == ["demo.js"]
    assert http("GET", webchat_url + "/vendor/socket.io.min.js").status == 200
    assert http("GET", webchat_url + "/__main__.py").status == 404
    assert http("GET", webchat_url + "/vendor/").status == 404
