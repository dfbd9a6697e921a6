"""Rasa 3.6's SQL tracker store table, as `SQLTrackerStore` creates it
(rasa/core/tracker_store.py), described once for the code that reads or
writes it without Rasa: analytics, erasure, retention, the id migration and
the tests that build a store by hand. SQLAlchemy Core only, so it works on
the bot environment's SQLAlchemy 1.4 and the analytics environment's 2.0.
"""

from __future__ import annotations

import sqlalchemy as sa


def events_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "events",
        metadata,
        sa.Column("id", sa.Integer, sa.Sequence("events_seq", optional=True), primary_key=True),
        sa.Column("sender_id", sa.String(255), nullable=False, index=True),
        sa.Column("type_name", sa.String(255), nullable=False),
        sa.Column("timestamp", sa.Float),
        sa.Column("intent_name", sa.String(255)),
        sa.Column("action_name", sa.String(255)),
        sa.Column("data", sa.Text),
    )
