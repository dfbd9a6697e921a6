"""HttpSender against the stand-in: timeouts, retries with back-off, logging."""

import asyncio
import logging
import socket

import pytest

from channels.outbound import HttpSender, RetryPolicy, backoff_delay, redact_url


def run(coro):
    return asyncio.run(coro)


async def post(sender, url, **kwargs):
    try:
        return await sender.post(
            url, conversation_id="conv-42", what="test send", json={"x": 1}, **kwargs
        )
    finally:
        await sender.close()


def no_sleep_sender(**policy):
    slept = []

    async def sleep(seconds):
        slept.append(seconds)

    return HttpSender(RetryPolicy(**policy), sleep=sleep), slept


@pytest.mark.parametrize(
    "attempt,retry_after,expected_range",
    [
        (1, None, (0.25, 0.5)),
        (2, None, (0.5, 1.0)),
        (3, None, (1.0, 2.0)),
        (10, None, (8.0, 8.0)),  # capped
        (1, "3", (3.0, 3.0)),  # server knows best...
        (1, "120", (8.0, 8.0)),  # ...within our cap
        (1, "Wed, 21 Oct 2015 07:28:00 GMT", (0.25, 0.5)),
    ],
)
def test_backoff_delay(attempt, retry_after, expected_range):
    lo, hi = expected_range
    for rand in (0.0, 0.5, 0.999):
        delay = backoff_delay(attempt, RetryPolicy(), retry_after, lambda r=rand: r)
        assert lo <= delay <= hi


def test_redact_url_drops_query_and_userinfo():
    assert (
        redact_url("https://u:p@graph.example:8443/v21/me/messages?access_token=T")
        == "https://graph.example:8443/v21/me/messages"
    )


def test_success_first_try(outbox):
    sender, slept = no_sleep_sender()
    result = run(post(sender, outbox.url + "/ok", headers={"Authorization": "Bearer t"}))
    assert result.ok and result.attempts == 1 and slept == []
    assert result.body["messages"][0]["id"] == "wamid.stand-in"
    assert outbox.requests[0].json() == {"x": 1}


def test_retries_transient_failures_then_succeeds(outbox):
    outbox.script((503, 0), (429, 0))
    sender, slept = no_sleep_sender(attempts=3)
    result = run(post(sender, outbox.url + "/retry"))
    assert result.ok and result.attempts == 3 and len(slept) == 2
    assert len(outbox.requests) == 3


def test_client_error_is_not_retried_and_is_logged(outbox, caplog):
    outbox.script((400, 0))
    sender, slept = no_sleep_sender()
    with caplog.at_level(logging.ERROR, logger="channels.outbound"):
        result = run(post(sender, outbox.url + "/bad?access_token=SECRET"))
    assert not result.ok and result.status == 400 and result.attempts == 1 and slept == []
    assert "conv-42" in caplog.text and "test send" in caplog.text
    assert "SECRET" not in caplog.text


def test_timeout_is_retried_then_given_up(outbox, caplog):
    outbox.script((200, 1.0), (200, 1.0))
    sender, slept = no_sleep_sender(attempts=2, timeout=0.3)
    with caplog.at_level(logging.ERROR, logger="channels.outbound"):
        result = run(post(sender, outbox.url + "/slow"))
    assert not result.ok and result.attempts == 2 and "Timeout" in result.error
    assert "conv-42" in caplog.text


def test_connection_refused_never_raises():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    sender, slept = no_sleep_sender(attempts=2, timeout=2)
    result = run(post(sender, f"http://127.0.0.1:{port}/x"))
    assert not result.ok and result.status is None and result.attempts == 2


def test_does_not_block_the_event_loop(outbox):
    """While a send waits for a slow server, other coroutines keep running."""
    outbox.script((200, 0.5))
    sender = HttpSender(RetryPolicy(timeout=5))

    async def scenario():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.02)
                ticks += 1

        task = asyncio.create_task(ticker())
        result = await post(sender, outbox.url + "/slow")
        task.cancel()
        return result, ticks

    result, ticks = run(scenario())
    assert result.ok and ticks >= 10
