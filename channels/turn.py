"""One customer turn: stored or failed as a whole, its replies sent after it was stored.

A turn is Rasa's ``on_new_message`` (``Agent.handle_message``: the
conversation lock, NLU, actions, saving the tracker). Three things make a
webhook delivery at-least-once in and exactly-once stored:

* **Replies wait for the save.** The turn runs with a ``BufferedOutput``: each
  bot message Rasa sends (``send_response``) is kept, not sent. Only when the
  turn returned (its events are saved) do the kept messages go on, to
  ``channels.outbox.dispatch``; a turn that raised sends nothing, and the
  platform's redelivery sends them. So each send happens outside the
  conversation lock and outside the turn's time bound.
* **The request does not own the turn.** Sanic cancels a handler when the
  caller hangs up (Twilio after 15 s, Meta sooner, a load balancer), and a turn
  cancelled half-way is lost: Rasa saves only at its end. ``Turns`` runs each
  turn (and each batch) as a task of its own that the handler only waits for.
* **One turn per message id in this process.** A redelivery that arrives
  while the same message's turn is still running joins that turn and gets its
  outcome, instead of queueing a second one behind the lock.

The ground truth of "already stored" is the tracker store (the turn guard
skips a message whose id is already a user event of the session); the ids
marked done here (``channels.dedup``) only spare a redelivery the lock and the
database.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage

from nps.identity import log_id

logger = logging.getLogger(__name__)


class BufferedOutput(OutputChannel):
    """Keeps every bot message of a turn instead of sending it.

    ``name()`` is the real channel's: Rasa records it as the channel a reply
    went out on and picks channel-specific response variations by it."""

    def __init__(self, output: OutputChannel) -> None:
        self.output = output
        self.messages: list[dict[str, Any]] = []

    def name(self) -> str:  # type: ignore[override]  # per instance, not per class
        return self.output.name()

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        # Rasa calls this for every BotUttered of the turn; a copy, because
        # OutputChannel.send_response pops keys from the dict it is given.
        self.messages.append(dict(message))

    # Rasa 3.6 sends through send_response only; these keep anything that
    # calls a per-kind method directly in the same buffer.
    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.messages.append({"text": text})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        self.messages.append({"text": text, "buttons": buttons})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        self.messages.append({"image": image})

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        self.messages.append({"custom": json_message})


async def run_turn(
    on_new_message: Callable[[UserMessage], Awaitable[Any]], message: UserMessage
) -> list[dict[str, Any]]:
    """Run one turn with its replies held back; the replies of a turn that
    returned. Raises whatever the turn raised (then nothing was sent)."""
    buffered = BufferedOutput(message.output_channel)
    message.output_channel = buffered
    await on_new_message(message)
    return buffered.messages


class Result(enum.Enum):
    STORED = "stored"  # the turn returned: saved, replies handed over
    SKIPPED = "skipped"  # a redelivery of a message already done
    FAILED = "failed"  # the turn raised or was cancelled: nothing saved or sent
    DEFERRED = "deferred"  # not run: an earlier message of its sender failed


@dataclass
class Outcome:
    result: Result
    # The task handing the turn's replies over, when there are any.
    replies: asyncio.Task | None = None


FAILED = Outcome(Result.FAILED)


class Turns:
    """The turns and reply hand-overs this process runs, detached from requests.

    One per connector. Tasks are kept in a set (asyncio holds only weak
    references to tasks) until they finish, so ``drain`` can wait for them
    when the server stops."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()
        self._by_key: dict[str, asyncio.Task] = {}
        self._last_replies: dict[str, asyncio.Task] = {}

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run ``work`` as a task nobody's cancellation reaches."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def settle(self, work: Coroutine[Any, Any, Any]) -> tuple[Any, BaseException | None]:
        """Run ``work`` detached and wait for it: (its result, None), or
        (None, what it raised); a cancelled one (server stopping) gives
        CancelledError. Cancelling the caller stops the waiting only."""
        task = self.spawn(work)
        await asyncio.wait({task})
        if task.cancelled():
            return None, asyncio.CancelledError()
        error = task.exception()
        return (None, error) if error is not None else (task.result(), None)

    async def once(self, key: str | None, start: Callable[[], Awaitable[Outcome]]) -> Outcome:
        """The outcome of ``start()``, run as a detached task; while one runs
        for ``key`` (a message id), later callers join it instead."""
        task = self._by_key.get(key) if key else None
        if task is None:
            task = self.spawn(_as_coroutine(start))
            if key:
                self._by_key[key] = task
                task.add_done_callback(lambda done: _forget(self._by_key, key, done))
        # asyncio.wait, not await: cancelling this caller must not cancel
        # the turn, which other callers may share.
        await asyncio.wait({task})
        if task.cancelled():
            return FAILED  # the server is stopping: nothing was saved
        return task.result()

    def after_earlier_replies(
        self, conversation: str, hand_over: Callable[[], Awaitable[Any]]
    ) -> asyncio.Task:
        """Run ``hand_over()`` once every earlier hand-over of the same
        conversation in this process is finished, so replies keep the
        order of their turns even when one send is slow."""
        previous = self._last_replies.get(conversation)

        async def in_order() -> None:
            if previous is not None:
                await asyncio.wait({previous})
            try:
                await hand_over()
            except Exception:
                # The turn is stored; its redelivery would be a no-op, so
                # this is the one place these replies could be lost: loud.
                logger.exception("replies of %s could not be handed over", log_id(conversation))

        task = self.spawn(in_order())
        self._last_replies[conversation] = task
        task.add_done_callback(lambda done: _forget(self._last_replies, conversation, done))
        return task

    async def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for every running turn and hand-over;
        how many were still running."""
        if not self._tasks:
            return 0
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        if pending:
            logger.warning("%d turns or reply hand-overs still running at shutdown", len(pending))
        return len(pending)


async def _as_coroutine(start: Callable[[], Awaitable[Outcome]]) -> Outcome:
    return await start()


def _forget(index: dict[str, asyncio.Task], key: str, task: asyncio.Task) -> None:
    if index.get(key) is task:
        del index[key]
