"""Replies of a stored turn, on their way to the customer.

Placeholder of the interface the inbound side calls (issue 8): the durable
outbox replaces the body of ``dispatch``; its signature stays.
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.channel import OutputChannel


async def dispatch(
    output: OutputChannel, recipient_id: str, messages: list[dict[str, Any]], turn_key: str
) -> None:
    """Send the replies of one stored turn, in order. ``turn_key`` names the
    turn (channel message id) so a turn's replies are kept once."""
    for message in messages:
        await output.send_response(recipient_id, message)


def attach(connector: Any, hook: Any) -> None:
    """Register what the outbox needs on a connector's blueprint (its retry
    worker, how to rebuild the connector's output channel)."""
