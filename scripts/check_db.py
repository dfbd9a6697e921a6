"""Check that the tracker store's database answers, with one clear line if not.

Rasa itself would retry a dead database forever with a warning every five
seconds; an operator deserves a message that says what to fix.
"""

from __future__ import annotations

import sys

import sqlalchemy as sa

from nps.db_error import describe
from nps.settings import load_settings


def main(url: str) -> int:
    try:
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any driver error: the message is what matters
        print(
            f"The tracker store database is unreachable ({_without_password(url)}): "
            f"{describe(error)}",
            file=sys.stderr,
        )
        print(
            "Set NPS_DB_URL to a SQLAlchemy URL, e.g. sqlite:///var/tracker.db or "
            "postgresql://user:pass@host:5432/db",
            file=sys.stderr,
        )
        return 1
    return 0


def _without_password(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "not a SQLAlchemy URL"


if __name__ == "__main__":
    # The URL in force (NPS_DB_URL or its default), unless one is given.
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else load_settings().db_url))
