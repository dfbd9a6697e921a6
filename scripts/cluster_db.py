"""Create the cluster's tracker-store database and Rasa's events table, when missing.

    python scripts/cluster_db.py postgresql://postgres@127.0.0.1:5432/nps_cluster

`make cluster` starts several Rasa processes at once on one database; each
would try to create the table, and all but one log an error. Made once here
first (storage/tracker_schema.py describes the table as Rasa makes it), they
find it in place. A SQLite URL needs nothing (the file is made on first use).
"""

from __future__ import annotations

import sys

import sqlalchemy as sa

from nps.db_error import describe
from storage.tracker_schema import events_table


def ensure_database(url: str) -> None:
    target = sa.engine.make_url(url)
    if target.get_backend_name() != "postgresql" or not target.database:
        return
    # The maintenance database of the same server, as the same user.
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": target.database},
            ).first()
            if not exists:
                # An identifier cannot be a bound parameter; quote it as one.
                quoted = admin.dialect.identifier_preparer.quote_identifier(target.database)
                connection.execute(sa.text(f"CREATE DATABASE {quoted}"))
    finally:
        admin.dispose()


def ensure_events_table(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        metadata = sa.MetaData()
        events_table(metadata)
        metadata.create_all(engine, checkfirst=True)
    finally:
        engine.dispose()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python scripts/cluster_db.py <SQLAlchemy URL>", file=sys.stderr)
        return 2
    try:
        ensure_database(argv[0])
        ensure_events_table(argv[0])
    except Exception as error:  # noqa: BLE001 - any driver error: one line for the operator
        print(f"The cluster's database could not be prepared: {describe(error)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
