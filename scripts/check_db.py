"""Check that the tracker store's database answers, with one clear line if not.

Rasa itself would retry a dead database forever with a warning every five
seconds; an operator deserves a message that says what to fix.
"""

from __future__ import annotations

import sys

import sqlalchemy as sa


def main(url: str) -> int:
    try:
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any driver error: the message is what matters
        safe = sa.engine.make_url(url).render_as_string(hide_password=True) if "://" in url else url
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        print(f"The tracker store database is unreachable ({safe}): {reason}", file=sys.stderr)
        print(
            "Set NPS_DB_URL to a SQLAlchemy URL, e.g. sqlite:///var/tracker.db or "
            "postgresql://user:pass@host:5432/db",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
