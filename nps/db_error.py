"""One line that says what went wrong with a database, for people.

SQLAlchemy wraps the driver's error (`error.orig`) in a message of several
lines (the statement, its parameters, a link to its docs); the first line
of the driver's own message is what an operator can act on. Standard
library only, so the bot's scripts and analytics share it.
"""

from __future__ import annotations


def describe(error: BaseException) -> str:
    """The first line of `error.orig` (or of the error itself); the error's
    class name when it has no message."""
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else error.__class__.__name__
