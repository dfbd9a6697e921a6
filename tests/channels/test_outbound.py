"""What one send's result means (channels.outbound): the classification table,
pure and against a local aiohttp stand-in (statuses, Graph error codes inside
HTTP 400, Retry-After forms, connect vs read timeout), and the sender's
logging and retries."""

import asyncio
import email.utils
import logging

import aiohttp
import pytest

from channels.outbound import (
    HttpSender,
    Outcome,
    RetryPolicy,
    backoff_delay,
    classify_exception,
    classify_response,
    platform_message_id,
    redact_url,
    retry_after_seconds,
)
from tests.channels.outbound_stand_in import (
    Answer,
    FullBacklog,
    PlatformStandIn,
    closed_port,
    graph_error,
)

NOW = 1_800_000_000.0
HTTP_DATE_IN_30S = email.utils.formatdate(NOW + 30, usegmt=True)

S, R, P, U = Outcome.SENT, Outcome.RETRY, Outcome.PERMANENT, Outcome.UNKNOWN

# (platform, HTTP status, body, Retry-After) -> (outcome, seconds to wait)
TABLE = [
    ("meta", 200, {"message_id": "m1"}, None, S, None),
    ("twilio", 201, {"sid": "SM1", "status": "queued"}, None, S, None),
    # Meta's throttling comes as HTTP 400: the code decides
    ("meta", 400, graph_error(4), None, R, None),
    ("meta", 400, graph_error(17), None, R, None),
    ("meta", 400, graph_error(32), None, R, None),
    ("meta", 400, graph_error(613), None, R, None),
    ("meta", 400, graph_error(80007), None, R, None),
    ("meta", 400, graph_error(130429), None, R, None),
    ("meta", 400, graph_error(131056), None, R, None),
    ("meta", 500, graph_error(2), None, R, None),
    ("meta", 400, graph_error(9999, is_transient=True), None, R, None),
    ("meta", 400, graph_error(613), "7", R, 7.0),
    # refused for good, whatever the HTTP status
    ("meta", 400, graph_error(190), None, P, None),  # bad token
    ("meta", 401, graph_error(190), None, P, None),
    ("meta", 400, graph_error(100), None, P, None),  # invalid parameter
    ("meta", 400, graph_error(131047), None, P, None),  # outside the 24-hour window
    ("meta", 403, graph_error(10), None, P, None),  # permission
    ("meta", 500, graph_error(100), None, P, None),
    ("meta", 404, "not found", None, P, None),
    # the server says retry
    ("meta", 429, "", "3", R, 3.0),
    ("meta", 503, "", HTTP_DATE_IN_30S, R, 30.0),
    ("meta", 503, "", None, R, None),
    ("meta", 408, "", None, R, None),
    # a bare 5xx from Meta's side: it may have sent it
    ("meta", 500, "", None, U, None),
    ("meta", 502, "<html>bad gateway</html>", None, U, None),
    ("meta", 504, "", None, U, None),
    # Twilio: 429/5xx retried unless its body says it has the message
    ("twilio", 429, {"code": 20429, "status": 429}, "2", R, 2.0),
    ("twilio", 500, "", None, R, None),
    ("twilio", 503, {"code": 20503}, None, R, None),
    ("twilio", 500, {"sid": "SM9", "status": "queued"}, None, S, None),
    ("twilio", 400, {"code": 21211, "message": "invalid To"}, None, P, None),
    ("twilio", 401, {"code": 20003}, None, P, None),
]


@pytest.mark.parametrize("platform,status,body,retry_after,outcome,wait", TABLE)
def test_classification_table(platform, status, body, retry_after, outcome, wait):
    assert classify_response(platform, status, body, retry_after, now=NOW) == (outcome, wait)


@pytest.mark.parametrize(
    "value,seconds",
    [
        ("5", 5.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        (HTTP_DATE_IN_30S, 30.0),
        (email.utils.formatdate(NOW - 60, usegmt=True), 0.0),  # a date past: now
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_forms(value, seconds):
    assert retry_after_seconds(value, NOW) == seconds


def test_exceptions_retry_only_when_the_request_never_left():
    refused = aiohttp.ClientConnectorError(None, OSError(111, "refused"))  # type: ignore[arg-type]
    assert classify_exception(refused, request_left=False) is R
    assert classify_exception(refused, request_left=True) is R
    for exc in (
        aiohttp.ServerTimeoutError("Timeout on reading data from socket"),
        asyncio.TimeoutError(),
        aiohttp.ServerDisconnectedError(),
        ConnectionResetError(),
    ):
        assert classify_exception(exc, request_left=False) is R
        assert classify_exception(exc, request_left=True) is U
    assert classify_exception(ValueError("bad url"), request_left=False) is P


def test_platform_message_ids():
    assert platform_message_id({"messages": [{"id": "wamid.X"}]}) == "wamid.X"
    assert platform_message_id({"recipient_id": "1", "message_id": "mid.Y"}) == "mid.Y"
    assert platform_message_id({"sid": "SM1", "status": "queued"}) == "SM1"
    assert platform_message_id("text") is None


@pytest.mark.parametrize(
    "attempt,retry_after,expected_range",
    [
        (1, None, (0.25, 0.5)),
        (2, None, (0.5, 1.0)),
        (3, None, (1.0, 2.0)),
        (10, None, (8.0, 8.0)),  # capped
        (1, "3", (3.0, 3.0)),  # server knows best...
        (1, "120", (8.0, 8.0)),  # ...within our cap
        (1, "Wed, 21 Oct 2015 07:28:00 GMT", (0.0, 0.0)),  # a date already past
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


# ------------------------------------------------ against the stand-in


async def once(url, platform="meta", policy=None, **kwargs):
    sender = HttpSender(policy or RetryPolicy(timeout=5))
    try:
        return await sender.send_once(
            url, conversation_id="messenger:#abc", what="test send", platform=platform, **kwargs
        )
    finally:
        await sender.close()


LIVE = [
    (Answer(200), "meta", S),
    (Answer(400, graph_error(613)), "meta", R),
    (Answer(400, graph_error(130429)), "meta", R),
    (Answer(400, graph_error(131047)), "meta", P),
    (Answer(400, graph_error(190)), "meta", P),
    (Answer(429, {}, {"Retry-After": "4"}), "meta", R),
    (Answer(503, {}, {"Retry-After": HTTP_DATE_IN_30S}), "meta", R),
    (Answer(502, "bad gateway"), "meta", U),
    (Answer(500, {"code": 20500}), "twilio", R),
    (Answer(400, {"code": 21211}), "twilio", P),
]


@pytest.mark.parametrize("answer,platform,outcome", LIVE)
def test_classification_over_http(answer, platform, outcome):
    async def scenario():
        async with PlatformStandIn() as api:
            api.then(answer)
            result = await once(api.url + "/v21.0/me/messages", platform, json={"x": 1})
            return result, len(api.received)

    result, posts = asyncio.run(scenario())
    assert (result.outcome, result.status, posts) == (outcome, answer.status, 1)
    if answer.headers.get("Retry-After") == "4":
        assert result.retry_after == 4.0
    if outcome is S:
        assert result.message_id == "mid.1" and result.error is None


def test_connection_refused_is_retry():
    result = asyncio.run(once(f"http://127.0.0.1:{closed_port()}/x", json={}))
    assert result.outcome is R and result.status is None


def test_connect_timeout_is_retry_read_timeout_is_unknown():
    async def connect_timeout():
        with FullBacklog() as port:
            policy = RetryPolicy(timeout=3, connect_timeout=0.3)
            return await once(f"http://127.0.0.1:{port}/x", policy=policy, json={})

    result = asyncio.run(connect_timeout())
    assert result.outcome is R and "Timeout" in result.error

    async def read_timeout():
        async with PlatformStandIn() as api:
            api.then(Answer(200, delay=1.0))
            result = await once(api.url + "/x", policy=RetryPolicy(timeout=0.3), json={})
            return result, len(api.received)

    result, posts = asyncio.run(read_timeout())
    assert result.outcome is U and posts == 1


def test_post_retries_only_what_may_be_retried(caplog):
    slept = []

    async def sleep(seconds):
        slept.append(seconds)

    async def scenario(*answers, platform="meta"):
        async with PlatformStandIn() as api:
            api.then(*answers)
            sender = HttpSender(RetryPolicy(attempts=3, timeout=0.5), sleep=sleep)
            try:
                result = await sender.post(
                    api.url + "/x", conversation_id="c", what="t", platform=platform, json={}
                )
            finally:
                await sender.close()
            return result, len(api.received)

    # throttled twice, then accepted: three posts, Retry-After honoured
    result, posts = asyncio.run(
        scenario(Answer(400, graph_error(613), {"Retry-After": "2"}), Answer(503), Answer(200))
    )
    assert result.ok and result.attempts == 3 and posts == 3 and slept[0] == 2.0
    # a read timeout is never resent
    result, posts = asyncio.run(scenario(Answer(200, delay=1.5)))
    assert result.outcome is U and posts == 1
    # nor a permanent refusal, which is logged without the token in the URL
    with caplog.at_level(logging.ERROR, logger="channels.outbound"):
        result, posts = asyncio.run(scenario(Answer(400, graph_error(190))))
    assert result.outcome is P and posts == 1
    assert "t to http://127.0.0.1" in caplog.text and "permanent" in caplog.text
    # a wait longer than a caller should sit through goes back to the caller
    result, posts = asyncio.run(scenario(Answer(429, {}, {"Retry-After": "600"})))
    assert result.outcome is R and result.retry_after == 600.0 and posts == 1


def test_error_text_has_no_phone_numbers(caplog):
    async def scenario():
        async with PlatformStandIn() as api:
            api.then(Answer(400, {"code": 21211, "message": "The 'To' number +48600100200"}))
            return await once(api.url + "/x", "twilio", data={"To": "+48600100200"})

    with caplog.at_level(logging.INFO, logger="channels.outbound"):
        result = asyncio.run(scenario())
    assert result.outcome is P and "600100200" not in result.error
    assert "600100200" not in caplog.text


def test_does_not_block_the_event_loop():
    """While a send waits for a slow server, other coroutines keep running."""

    async def scenario():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.02)
                ticks += 1

        async with PlatformStandIn() as api:
            api.then(Answer(200, delay=0.5))
            task = asyncio.create_task(ticker())
            result = await once(api.url + "/slow", json={})
            task.cancel()
        return result, ticks

    result, ticks = asyncio.run(scenario())
    assert result.ok and ticks >= 10
