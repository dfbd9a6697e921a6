"""Personal data in the action server: erasure the customer asks for in the
chat, retention, and failures that never send a conversation anywhere.

Erasure on request. After the customer confirms (data/rules.yml),
``action_erase_data`` answers and returns: its own event in the tracker store
is the request. Deleting inside the action would be undone, because Rasa
saves the turn after the action returns (storage/erasure.py explains), so a
background task waits until that event is saved, then erases the
conversation's forms (`storage.erasure.conversation_forms`) from the tracker
store and the projection; the next message starts a new, empty
conversation. A second pass a little later catches events a parallel turn
wrote back, and the hourly sweep catches requests whose task never ran (the
action server stopped).

Failures. rasa-sdk answers an exception with the whole tracker in the 500
body, which Rasa then logs. `install` replaces that handler: the answer and
the log name the action and the exception type only.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback

from rasa_sdk import Action, Tracker
from rasa_sdk.types import DomainDict

from actions import responses as say
from storage import erasure, retention

logger = logging.getLogger(__name__)

# How long to wait for Rasa to save the confirming turn, and how often to look.
SAVE_WAIT_SECONDS = 60.0
POLL_SECONDS = 0.5
# The second pass, for events a parallel turn wrote back after the first.
RESWEEP_SECONDS = 30.0
# Retention and the sweep for unfinished erasure requests.
SWEEP_EVERY_SECONDS = 3600.0

_tasks: set[asyncio.Task] = set()


def _stores() -> tuple[str, str, str]:
    """(tracker store URL, projection URL, projection schema) from the settings."""
    from analytics.settings import load_settings

    s = load_settings()
    return s.db_url, s.analytics_db_url, s.analytics_schema


def _keep(task: asyncio.Task) -> None:
    # Keep a reference until done: the event loop holds tasks only weakly.
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _in_thread(function, *args):
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


async def erase_when_saved(sender_id: str, stores: tuple[str, str, str] | None = None) -> int:
    """Wait until the request of `sender_id` is saved, then erase (twice);
    the rows removed by the first pass."""
    db_url, analytics_url, schema = stores or _stores()
    deadline = time.monotonic() + SAVE_WAIT_SECONDS
    while time.monotonic() < deadline:
        saved = await _in_thread(_request_saved, db_url, sender_id)
        if saved:
            break
        await asyncio.sleep(POLL_SECONDS)
    else:
        # Not saved in time (Rasa failed the turn?): the hourly sweep will
        # find the request if it is saved later.
        logger.warning("erasure: the request was not saved within %.0f s", SAVE_WAIT_SECONDS)
        return 0
    first = await _in_thread(erasure.erase_requested, db_url, analytics_url, schema, [sender_id])
    logger.info("erasure on request: %d row(s) removed", first.total)
    await asyncio.sleep(RESWEEP_SECONDS)
    again = await _in_thread(erasure.erase_requested, db_url, analytics_url, schema, [sender_id])
    if again.total:
        logger.info("erasure on request, second pass: %d row(s) removed", again.total)
    return first.total


def _request_saved(db_url: str, sender_id: str) -> bool:
    engine = erasure._engine(db_url)
    try:
        with engine.connect() as conn:
            return bool(erasure.erasure_requests(conn, [sender_id]))
    finally:
        engine.dispose()


def sweep(now: float | None = None) -> None:
    """Unfinished erasure requests, then retention (NPS_RETENTION_DAYS)."""
    from nps.settings import load_settings

    db_url, analytics_url, schema = _stores()
    done = erasure.erase_requested(db_url, analytics_url, schema)
    if done.total:
        logger.info("erasure sweep: %d row(s) removed", done.total)
    days = load_settings().retention_days
    count, report = retention.apply_retention(db_url, days, analytics_url, schema, now=now)
    if count:
        logger.info("retention %d days: %d conversation(s), %d row(s)", days, count, report.total)


async def _sweep_forever() -> None:
    while True:
        try:
            await _in_thread(sweep)
        except Exception as error:  # noqa: BLE001 - the next hour tries again; the server stays up
            logger.error("erasure/retention sweep failed: %s", type(error).__name__)
        await asyncio.sleep(SWEEP_EVERY_SECONDS)


class ActionEraseData(Action):
    """The customer confirmed: say so, and erase once this turn is saved."""

    def name(self) -> str:
        return erasure.ERASE_ACTION

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        dispatcher.utter_message(response=say.ERASE_DONE)
        _keep(asyncio.get_running_loop().create_task(erase_when_saved(tracker.sender_id)))
        return []


def _action_name(request) -> str:
    try:
        name = (request.json or {}).get("next_action")
    except Exception:  # noqa: BLE001 - an unreadable body has no action name
        name = None
    return name if isinstance(name, str) and name.isidentifier() else "unknown"


def install(app) -> None:
    """Fit the rasa-sdk Sanic app: failures without conversation data, and
    the hourly erasure/retention sweep (also right after start)."""
    from sanic import response

    @app.exception(Exception)
    async def failed(request, exception: Exception):
        action = _action_name(request)
        # Where it failed (code lines), and the type only: an exception's
        # message may quote the customer.
        where = "".join(traceback.format_tb(exception.__traceback__))
        logger.error("action %s failed: %s\n%s", action, type(exception).__name__, where)
        return response.json({"error": f"action {action} failed"}, status=500)

    @app.listener("after_server_start")
    async def start_sweeps(app, loop) -> None:
        _keep(loop.create_task(_sweep_forever()))
