"""Outgoing HTTP calls to Meta and Twilio: timeouts, retries, back-off.

Why our own sender: Rasa 3.6's Messenger connector sends through the
``fbmessenger`` package (``requests``, blocking, no timeout) from inside the
event loop, so one slow call to Meta stalls every conversation of the process;
its Twilio connector uses the blocking Twilio client the same way. Here every
call is ``aiohttp`` (already installed by Rasa), bounded by a timeout, retried
on transient failures with exponential back-off and jitter, and a final
failure is logged with the conversation's log id (``nps.identity.log_id``,
never a phone number) and returned, never raised: a
customer's turn is already stored in the tracker and must not crash because
the platform was briefly unavailable.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

logger = logging.getLogger(__name__)

# 408/429 and 5xx are worth another try; other 4xx mean the request itself is
# wrong (bad token, unknown recipient, outside the 24-hour window) and would
# fail the same way again.
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # total tries, the first included
    base_delay: float = 0.5  # seconds before the 2nd try; doubles each time
    max_delay: float = 8.0  # cap for one pause, Retry-After included
    timeout: float = 10.0  # seconds for one whole request (connect + read)


DEFAULT_POLICY = RetryPolicy()


def backoff_delay(
    attempt: int,
    policy: RetryPolicy,
    retry_after: str | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failed try number ``attempt`` (1-based).

    Exponential with jitter (50-100 % of the step) so that many conversations
    failing at once do not retry in lock-step; a server's ``Retry-After``
    (seconds) wins when present, but never beyond ``max_delay`` because a
    customer is waiting for the answer.
    """
    if retry_after:
        try:
            return max(0.0, min(float(retry_after), policy.max_delay))
        except ValueError:
            pass  # an HTTP date: fall back to our own schedule
    step = policy.base_delay * (2 ** (attempt - 1))
    return min(policy.max_delay, step * (0.5 + rand() / 2))


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
    ok: bool
    status: int | None = None
    body: Any = None
    attempts: int = 0
    error: str | None = None


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
                timeout=aiohttp.ClientTimeout(total=self.policy.timeout),
                raise_for_status=False,
            )
            self._loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def post(
        self,
        url: str,
        *,
        conversation_id: str,
        what: str,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> SendResult:
        """POST with retries; returns a SendResult and never raises.

        ``what`` names the call in logs ("messenger send", "whatsapp send").
        """
        result = SendResult(ok=False)
        basic = aiohttp.BasicAuth(*auth) if auth else None
        for attempt in range(1, self.policy.attempts + 1):
            result.attempts = attempt
            retry_after: str | None = None
            try:
                session = self._get_session()
                async with session.post(
                    url, json=json, data=data, headers=headers, auth=basic
                ) as response:
                    result.status = response.status
                    text = await response.text()
                    result.body = _parse_body(text, response.content_type)
                    if 200 <= response.status < 300:
                        result.ok = True
                        result.error = None
                        return result
                    result.error = f"HTTP {response.status}: {redact_ids(text[:300])}"
                    retry_after = response.headers.get("Retry-After")
                    if response.status not in RETRYABLE_STATUS:
                        break
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                result.status = None
                result.error = f"{exc.__class__.__name__}: {exc}"[:300]
            except Exception as exc:  # noqa: BLE001 - a send must never crash a turn
                result.error = f"{exc.__class__.__name__}: {exc}"[:300]
                break
            if attempt < self.policy.attempts:
                delay = backoff_delay(attempt, self.policy, retry_after)
                logger.info(
                    "%s to %s failed for conversation %s (try %d/%d: %s); retrying in %.1fs",
                    what,
                    redact_url(url),
                    conversation_id,
                    attempt,
                    self.policy.attempts,
                    result.error,
                    delay,
                )
                await self._sleep(delay)
        logger.error(
            "%s to %s failed for conversation %s after %d tries: %s",
            what,
            redact_url(url),
            conversation_id,
            result.attempts,
            result.error,
        )
        return result


def _parse_body(text: str, content_type: str) -> Any:
    if "json" in (content_type or ""):
        import json as _json

        try:
            return _json.loads(text)
        except ValueError:
            return text
    return text
