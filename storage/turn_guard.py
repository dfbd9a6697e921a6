"""A turn either stores or fails: shims on Rasa 3.6, installed in the Rasa
process by storage/__init__.py (like the log redaction).

What Rasa does, and what these shims make it do instead:

* `Agent` wraps every tracker store in `FailSafeTrackerStore`, whose
  `retrieve` turns a database error into "no conversation" (the customer is
  greeted again mid-survey) and whose `save` falls back to memory (the turn
  vanishes). Our store is now used **unwrapped**: the wrapper exists only for
  that fallback, and it also hides the store's own `init_tracker`, which
  marks a new conversation for the concurrency check (storage/tracker_store.py).
  Patching each of its methods to re-raise would keep a class whose only
  job is the behaviour we remove. Rasa also falls back to an in-memory store,
  with a mere warning, when the store named in endpoints.yml fails to load;
  that is logged here as the error it is (not refused: a benchmark runs
  without a tracker store on purpose).
* A custom action that cannot be reached, times out or answers 5xx raises
  inside `MessageProcessor._run_action`, which logs "Bot will continue, but
  the actions events are lost" and goes on: the customer's answer is stored
  without the slots the action would have set (analytics reads only slots).
  `RemoteAction.run` now records such a failure for the turn, and the turn
  raises `ActionServerUnavailable` right after that action, so nothing is
  saved and the platform redelivers. A 400 (the action rejected itself, as
  a form validation may) stays Rasa's business.
* `MessageProcessor.handle_message` (called by `Agent.handle_message` under
  the conversation lock) is bounded by `NPS_TURN_TIMEOUT`, so a turn never
  outlives its lock (`NPS_LOCK_LIFETIME` is longer); a turn cut short raises
  `TurnTimeout` and saves nothing.
* **Exactly once stored**: a message whose `message_id` (the platform's mid or
  SID, set by the webhook connectors) is already a `user` event of the
  conversation's current session is not processed again: the turn does
  nothing and sends nothing. This check runs under the conversation lock on
  the stored conversation itself, so it holds whatever a dedup cache (Redis)
  remembers or forgets. REST and web chat ids are fresh uuids: never equal.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import aiohttp
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.processor import MessageProcessor
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.events import UserUttered

from nps.identity import log_id
from nps.settings import load_settings

logger = logging.getLogger(__name__)


class TurnFailed(RuntimeError):
    """The turn did not complete and nothing of it was saved; the message
    should be redelivered."""


class ActionServerUnavailable(TurnFailed):
    """A custom action could not be run (no connection, timeout, 5xx)."""


class TurnTimeout(TurnFailed):
    """The turn ran longer than NPS_TURN_TIMEOUT."""


class DuplicateMessage(Exception):
    """The message is already stored (internal: the turn then does nothing)."""


# The action-server failures of the running turn (a list shared by the tasks
# of one turn; None outside a turn).
_failures: contextvars.ContextVar[list[BaseException] | None] = contextvars.ContextVar(
    "nps_turn_action_failures", default=None
)

_originals: dict[str, Any] = {}


# --- small pure functions ---------------------------------------------------------


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_unavailability(error: BaseException) -> bool:
    """Whether a custom action's error means the action server could not do
    the work (connection refused or lost, timeout, a 5xx answer), judged on
    the error and its causes (Rasa re-raises these as a bare RasaException)."""
    for item in _chain(error):
        if isinstance(item, (aiohttp.ClientConnectionError, asyncio.TimeoutError)):
            return True
        # aiohttp's ClientResponseError or Rasa's own (rasa.utils.endpoints),
        # both aiohttp.ClientError with the HTTP status.
        status = getattr(item, "status", None)
        if isinstance(item, aiohttp.ClientError) and isinstance(status, int):
            return status >= 500
    return False


def holds_message(events: Iterable[Any], message_id: str | None) -> bool:
    """Whether a user event with this message id is among the events."""
    if not message_id:
        return False
    return any(isinstance(e, UserUttered) and e.message_id == message_id for e in events)


# --- the shims --------------------------------------------------------------------


@contextlib.contextmanager
def _turn_scope() -> Iterator[list[BaseException]]:
    """The failure list of the running turn, made when none is running
    (an action run from Rasa's HTTP API is a turn of its own)."""
    failures = _failures.get()
    if failures is not None:
        yield failures
        return
    failures = []
    token = _failures.set(failures)
    try:
        yield failures
    finally:
        _failures.reset(token)


def _fail_if_action_failed(failures: list[BaseException], sender_id: str) -> None:
    if failures:
        logger.error(
            "turn of %s failed: the action server could not run an action; nothing saved",
            log_id(sender_id),
        )
        raise ActionServerUnavailable("a custom action could not be run") from failures[0]


async def _remote_action_run(self, output_channel, nlg, tracker, domain):
    try:
        return await _originals["remote_run"](self, output_channel, nlg, tracker, domain)
    except ActionExecutionRejection:
        raise
    except Exception as error:
        failures = _failures.get()
        if failures is not None and is_unavailability(error):
            failures.append(error)
        raise


async def _run_action(self, action, tracker, output_channel, nlg, prediction) -> bool:
    with _turn_scope() as failures:
        result = await _originals["run_action"](
            self, action, tracker, output_channel, nlg, prediction
        )
        _fail_if_action_failed(failures, tracker.sender_id)
        return result


async def _run_action_extract_slots(self, output_channel, tracker):
    # Custom slot mappings run remote actions here; Rasa only warns when they fail.
    with _turn_scope() as failures:
        tracker = await _originals["extract_slots"](self, output_channel, tracker)
        _fail_if_action_failed(failures, tracker.sender_id)
        return tracker


async def _save_tracker(self, tracker) -> None:
    # The last gate: a failure recorded anywhere in the turn saves nothing.
    failures = _failures.get()
    if failures:
        _fail_if_action_failed(failures, tracker.sender_id)
    await _originals["save_tracker"](self, tracker)


async def _handle_message_with_tracker(self, message: UserMessage, tracker) -> None:
    if holds_message(tracker.events, message.message_id):
        raise DuplicateMessage(message.message_id)
    await _originals["with_tracker"](self, message, tracker)


async def _handle_message(self, message: UserMessage):
    timeout = load_settings().turn_timeout
    with _turn_scope():
        try:
            return await asyncio.wait_for(_originals["handle_message"](self, message), timeout)
        except DuplicateMessage:
            logger.info(
                "message of %s already stored: not processed again", log_id(message.sender_id)
            )
            return [] if isinstance(message.output_channel, CollectingOutputChannel) else None
        except asyncio.TimeoutError:
            logger.error(
                "turn of %s ran over %g s and was stopped; nothing saved",
                log_id(message.sender_id),
                timeout,
            )
            raise TurnTimeout(f"the turn ran over {timeout:g} s") from None


def _create_tracker_store(store, domain):
    if store is None or isinstance(store, InMemoryTrackerStore):
        # Wanted by a benchmark's endpoints without a tracker store; in service
        # it means the store named in endpoints.yml did not load.
        logger.error(
            "the tracker store is in memory: every conversation starts anew after a restart. "
            "endpoints.yml names storage.tracker_store.NpsSQLTrackerStore; if it is there, "
            "Rasa's warning above says why it did not load"
        )
    if store is None:
        return _originals["create_tracker_store"](store, domain)
    store.domain = domain
    return store


def install() -> None:
    """Install the shims (idempotent)."""
    if _originals:
        return
    _originals.update(
        remote_run=RemoteAction.run,
        run_action=MessageProcessor._run_action,
        extract_slots=MessageProcessor.run_action_extract_slots,
        save_tracker=MessageProcessor.save_tracker,
        with_tracker=MessageProcessor._handle_message_with_tracker,
        handle_message=MessageProcessor.handle_message,
        create_tracker_store=Agent._create_tracker_store,
    )
    RemoteAction.run = _remote_action_run
    MessageProcessor._run_action = _run_action
    MessageProcessor.run_action_extract_slots = _run_action_extract_slots
    MessageProcessor.save_tracker = _save_tracker
    MessageProcessor._handle_message_with_tracker = _handle_message_with_tracker
    MessageProcessor.handle_message = _handle_message
    Agent._create_tracker_store = staticmethod(_create_tracker_store)


def uninstall() -> None:
    """Rasa as it was (tests)."""
    if not _originals:
        return
    RemoteAction.run = _originals["remote_run"]
    MessageProcessor._run_action = _originals["run_action"]
    MessageProcessor.run_action_extract_slots = _originals["extract_slots"]
    MessageProcessor.save_tracker = _originals["save_tracker"]
    MessageProcessor._handle_message_with_tracker = _originals["with_tracker"]
    MessageProcessor.handle_message = _originals["handle_message"]
    Agent._create_tracker_store = staticmethod(_originals["create_tracker_store"])
    _originals.clear()


def installed() -> bool:
    return bool(_originals)
