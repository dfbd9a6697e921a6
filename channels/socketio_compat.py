"""Make Rasa 3.6's socketio channel work with python-socketio >= 5.10.

Rasa 3.6's ``SocketIOInput`` calls ``sio.enter_room(sid, session_id)``
without ``await``. python-socketio 5.10 turned ``AsyncServer.enter_room``
into a coroutine, so with ``session_persistence: true`` (our credentials.yml)
the browser never joins its session room: Rasa answers, the answer is emitted
to an empty room, and the web chat shows nothing ("coroutine
'AsyncServer.enter_room' was never awaited" in Rasa's log).

The fix that needs no code is pinning ``python-socketio<5.10`` next to Rasa;
this shim makes the channel correct whichever version is installed: the room
is entered at once (the client is connected to this process, so the local
room table is the right one, also under a Redis client manager) and an
already-completed future is returned, so callers that do ``await`` it keep
working. It is applied when the ``channels`` package is imported, which
``rasa run`` does while loading our connectors from credentials.yml.
"""

from __future__ import annotations

import asyncio
import inspect
import logging

logger = logging.getLogger(__name__)


def _enter_room_now(self, sid, room, namespace=None):  # type: ignore[no-untyped-def]
    namespace = namespace or "/"
    self.manager.basic_enter_room(sid, namespace, room)
    try:
        done = asyncio.get_running_loop().create_future()
    except RuntimeError:  # called outside a loop: nothing to await anyway
        return None
    done.set_result(None)
    return done


def apply() -> bool:
    """Patch ``socketio.AsyncServer.enter_room`` if needed; True if patched."""
    try:
        import socketio
        from socketio.base_manager import BaseManager
    except ImportError:  # no socketio in this environment: nothing to fix
        return False
    server = socketio.AsyncServer
    if getattr(server.enter_room, "_nps_compat", False):
        return True
    if not inspect.iscoroutinefunction(server.enter_room):
        return False  # python-socketio < 5.10: Rasa's call is already right
    if not hasattr(BaseManager, "basic_enter_room"):
        logger.warning("python-socketio changed again: web chat rooms not patched")
        return False
    _enter_room_now._nps_compat = True  # type: ignore[attr-defined]
    server.enter_room = _enter_room_now
    return True
