"""Outgoing HTTP calls to Meta and Twilio: one bounded try, and what its result means.

Why our own sender: Rasa 3.6's Messenger connector sends through the
``fbmessenger`` package (``requests``, blocking, no timeout) from inside the
event loop, so one slow call to Meta stalls every conversation of the process;
its Twilio connector uses the blocking Twilio client the same way. Here every
call is ``aiohttp`` (already installed by Rasa), bounded by a timeout.

Why a classification instead of "retry on error": none of these APIs takes an
idempotency key, so a resend after the platform got the request sends the
customer the same question twice (and bills the SMS twice). Each try ends in
one ``Outcome`` (``classify_response`` / ``classify_exception``, pure):

* SENT: the platform accepted it (its message id is kept);
* RETRY: surely not delivered (the connection never opened: refused, DNS,
  connect timeout) or the platform asks for a retry (429/503, Meta's throttling
  codes, ``is_transient``), with the delay it asked for (``Retry-After``);
* PERMANENT: the request itself is refused (bad token, outside the 24-hour
  window...): it would fail the same way again;
* UNKNOWN: the request left and no clear answer came back (read timeout,
  dropped connection, a bare 5xx from Meta): it may have arrived, so it is
  recorded and never resent automatically.

The durable outbox (``channels.outbox``) stores each part and acts on the
outcome; ``HttpSender.post`` (the template CLI) retries RETRY outcomes only.
Failures are logged with the conversation's log id (``nps.identity.log_id``),
never a phone number, and never raised: a customer's turn is already stored.
"""

from __future__ import annotations

import asyncio
import email.utils
import enum
import json as jsonlib
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from nps.settings import load_settings

logger = logging.getLogger(__name__)


class Outcome(str, enum.Enum):
    SENT = "sent"
    RETRY = "retry"
    PERMANENT = "permanent"
    UNKNOWN = "unknown"


# Meta Graph / WhatsApp Cloud error codes that mean "slow down and try again";
# they often come with HTTP 400, so the status alone cannot tell.
# 4 app rate limit, 17 user rate limit, 32 page rate limit, 613 calls/time,
# 80007 WhatsApp business account rate limit, 130429 Cloud API throughput,
# 131056 too many messages to one customer (pair rate limit).
META_THROTTLING_CODES = frozenset({4, 17, 32, 613, 80007, 130429, 131056})
# "Temporarily unavailable" codes that Meta documents as "wait and retry":
# 1 API unknown, 2 API service, 131016 service unavailable, 133004 server
# temporarily unavailable.
META_TEMPORARY_CODES = frozenset({1, 2, 131016, 133004})
RETRY_CODES = META_THROTTLING_CODES | META_TEMPORARY_CODES
# The server says the request was not taken: 408 it timed out waiting for our
# request, 425 too early, 429 too many, 503 unavailable.
RETRY_STATUS = frozenset({408, 425, 429, 503})
# Twilio answers with a Message resource (a ``sid``) once it queued the
# message; these statuses mean it has it.
TWILIO_ACCEPTED = frozenset({"accepted", "queued", "sending", "sent", "scheduled", "delivered"})

# A phone number or platform id in an API's error text ("The 'To' number
# +48600100200 is not valid"): never copied into a log line.
_LONG_NUMBER = re.compile(r"\+?\d[\d ]{4,}\d")


def redact_ids(text: str) -> str:
    """The text with every run of six or more digits replaced by "#"."""
    return _LONG_NUMBER.sub("#", text)


def redact_url(url: str) -> str:
    """The URL without query string or user info, safe to log."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass
class SendResult:
    outcome: Outcome
    status: int | None = None
    body: Any = None
    attempts: int = 1
    error: str | None = None  # redacted, safe to log and store
    retry_after: float | None = None  # seconds the platform asked us to wait
    message_id: str | None = None  # the platform's id of what it accepted

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SENT


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def graph_error(body: Any) -> dict[str, Any] | None:
    """Meta's ``{"error": {"code": ..}}``, or None."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]
    return None


def platform_message_id(body: Any) -> str | None:
    """The id the platform gave an accepted message: Messenger ``message_id``,
    WhatsApp ``messages[0].id``, Twilio ``sid``."""
    if not isinstance(body, dict):
        return None
    messages = body.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        if messages[0].get("id"):
            return str(messages[0]["id"])
    for key in ("message_id", "sid"):
        if body.get(key):
            return str(body[key])
    return None


def error_code(body: Any) -> int | None:
    """The platform's error code: Graph ``error.code``, Twilio ``code``."""
    error = graph_error(body)
    if error is not None:
        return _code(error.get("code"))
    return _code(body.get("code")) if isinstance(body, dict) else None


def _code(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def classify_response(
    platform: str,
    status: int,
    body: Any,
    retry_after: str | None = None,
    now: float | None = None,
) -> tuple[Outcome, float | None]:
    """(outcome, seconds to wait) for an HTTP answer; ``platform`` is "meta"
    (Messenger, WhatsApp Cloud) or "twilio"."""
    wait = retry_after_seconds(retry_after, time.time() if now is None else now)
    if 200 <= status < 300:
        return Outcome.SENT, None
    if platform == "meta":
        error = graph_error(body)
        if error is not None:
            # The code decides, whatever the HTTP status (throttling is 400).
            code = _code(error.get("code"))
            if code in RETRY_CODES or error.get("is_transient") is True:
                return Outcome.RETRY, wait
            if code is not None:
                return Outcome.PERMANENT, None
        if status in RETRY_STATUS:
            return Outcome.RETRY, wait
        if status >= 500:
            # A bare 5xx (a proxy's 502/504): Meta may have sent it.
            return Outcome.UNKNOWN, None
        return Outcome.PERMANENT, None
    # Twilio: a Message resource means it queued it, whatever else happened.
    if isinstance(body, dict) and body.get("sid") and body.get("status") in TWILIO_ACCEPTED:
        return Outcome.SENT, None
    if status == 429 or status >= 500 or status in RETRY_STATUS:
        return Outcome.RETRY, wait
    return Outcome.PERMANENT, None


def classify_exception(exc: BaseException, request_left: bool) -> Outcome:
    """A try that raised: RETRY only when the request surely never left.

    ``request_left`` is True once a connection was open for this request
    (aiohttp writes the request right after): from then on, a timeout or a
    dropped connection cannot tell whether the platform got it."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Outcome.RETRY  # refused, unreachable, DNS: nothing was sent
    if isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, OSError)):
        return Outcome.UNKNOWN if request_left else Outcome.RETRY
    return Outcome.PERMANENT  # our own bug (bad URL, unserialisable body)


async def _connection_ready(session: Any, ctx: SimpleNamespace, params: Any) -> None:
    if isinstance(ctx.trace_request_ctx, SimpleNamespace):
        ctx.trace_request_ctx.request_left = True


def _trace() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(_connection_ready)
    trace.on_connection_reuseconn.append(_connection_ready)
    return trace


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # total tries of HttpSender.post, the first included
    base_delay: float = 0.5  # seconds before the 2nd try; doubles each time
    max_delay: float = 8.0  # longest pause inside post(); longer waits are the outbox's
    timeout: float = 10.0  # seconds for one whole try, at most NPS_SEND_TIMEOUT
    connect_timeout: float = 5.0  # seconds to open the connection, within that


DEFAULT_POLICY = RetryPolicy()


def backoff_delay(
    attempt: int,
    policy: RetryPolicy,
    retry_after: str | float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failed try number ``attempt`` (1-based).

    Exponential with jitter (50-100 % of the step) so that many conversations
    failing at once do not retry in lock-step; a server's ``Retry-After``
    (seconds or HTTP date) wins when present, capped at ``max_delay``.
    """
    if isinstance(retry_after, str):
        retry_after = retry_after_seconds(retry_after, time.time())
    if retry_after is not None:
        return max(0.0, min(float(retry_after), policy.max_delay))
    step = policy.base_delay * (2 ** (attempt - 1))
    return min(policy.max_delay, step * (0.5 + rand() / 2))


def _timeout(policy: RetryPolicy) -> aiohttp.ClientTimeout:
    # Separate connect and read bounds: a connect timeout means the request
    # never left (safe to retry), a read timeout that it may have arrived.
    total = min(policy.timeout, load_settings().send_timeout)
    connect = min(policy.connect_timeout, total)
    return aiohttp.ClientTimeout(
        total=total, connect=connect, sock_connect=connect, sock_read=total
    )


class HttpSender:
    """One aiohttp session per event loop, shared by the calls of a connector."""

    def __init__(
        self,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.policy = policy
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            # A session is bound to the loop it was made in; tests and
            # `rasa run` may use different loops over the process's life.
            self._session = aiohttp.ClientSession(
                timeout=_timeout(self.policy), raise_for_status=False, trace_configs=[_trace()]
            )
            self._loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def send_once(
        self,
        url: str,
        *,
        conversation_id: str,
        what: str,
        platform: str = "meta",
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> SendResult:
        """One POST, classified; never raises (CancelledError aside).

        ``what`` names the call in logs ("messenger send", "whatsapp send")."""
        phase = SimpleNamespace(request_left=False)
        basic = aiohttp.BasicAuth(*auth) if auth else None
        try:
            session = self._get_session()
            async with session.post(
                url, json=json, data=data, headers=headers, auth=basic, trace_request_ctx=phase
            ) as response:
                text = await response.text()
                body = _parse_body(text, response.content_type)
                outcome, wait = classify_response(
                    platform, response.status, body, response.headers.get("Retry-After")
                )
                result = SendResult(outcome, response.status, body, retry_after=wait)
                if outcome is Outcome.SENT:
                    result.message_id = platform_message_id(body)
                else:
                    # The platform's error code is kept whole (redact_ids
                    # would hide a six-digit code like 131047).
                    code = error_code(body)
                    named = f" code {code}" if code is not None else ""
                    result.error = f"HTTP {response.status}{named}: {redact_ids(text[:300])}"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a send must never crash a turn
            outcome = classify_exception(exc, phase.request_left)
            result = SendResult(outcome, error=redact_ids(f"{type(exc).__name__}: {exc}")[:300])
        if result.outcome is not Outcome.SENT:
            log = logger.error if result.outcome is Outcome.PERMANENT else logger.warning
            log(
                "%s to %s for conversation %s: %s (%s)",
                what,
                redact_url(url),
                conversation_id,
                result.outcome.value,
                result.error,
            )
        return result

    async def post(self, url: str, **kwargs: Any) -> SendResult:
        """``send_once`` repeated while the outcome is RETRY and the wait is
        short (for callers without the outbox: the template CLI)."""
        attempts = max(1, self.policy.attempts)
        attempt = 1
        while True:
            result = await self.send_once(url, **kwargs)
            result.attempts = attempt
            if result.outcome is not Outcome.RETRY or attempt >= attempts:
                return result
            if result.retry_after is not None and result.retry_after > self.policy.max_delay:
                return result  # the platform wants longer than a caller should wait
            await self._sleep(backoff_delay(attempt, self.policy, result.retry_after))
            attempt += 1


def later_parts_go(outcome: Outcome) -> bool:
    """Do the later parts of a reply follow this one now? After SENT yes;
    after UNKNOWN too (it most likely arrived, and the survey must go on)."""
    return outcome in (Outcome.SENT, Outcome.UNKNOWN)


async def send_in_order(output: Any, recipient_id: str, parts: list[Any]) -> list[SendResult]:
    """Send rendered parts one by one with ``output.send_part``; the result of
    each part tried, stopping after one whose later parts must wait."""
    results: list[SendResult] = []
    for part in parts:
        results.append(await output.send_part(recipient_id, part))
        if not later_parts_go(results[-1].outcome):
            break
    return results


def _parse_body(text: str, content_type: str) -> Any:
    if "json" in (content_type or ""):
        try:
            return jsonlib.loads(text)
        except ValueError:
            return text
    return text
