"""The outbox table: every part of every bot reply on its way to a customer.

It lives in the tracker store's database (``NPS_DB_URL``) because it belongs
to the conversations there (erasure and retention reach both at once) and
every Rasa process already shares that database. SQLAlchemy Core only, so
the bot (SQLAlchemy 1.4) writes it and analytics (2.0) reads it, on SQLite
and PostgreSQL alike. Times are Unix seconds (floats), like Rasa's events.

One row per part, keyed by (channel, turn_key, seq): the turn's channel
message id and the part's place in the turn, so a turn dispatched twice
stores its replies once.
"""

from __future__ import annotations

import sqlalchemy as sa

TABLE = "nps_outbox"

# pending: waiting for its first try; retry: a try failed in a way that is
# safe to repeat, next_attempt_at says when; sending: claimed by one process
# (lease_until); sent: the platform accepted it; failed: refused for good,
# too old, or reported failed by the platform later; unknown: the request
# left and no answer came back (it may have arrived: never resent).
PENDING, RETRY, SENDING, SENT, FAILED, UNKNOWN = (
    "pending",
    "retry",
    "sending",
    "sent",
    "failed",
    "unknown",
)
STATES = (PENDING, RETRY, SENDING, SENT, FAILED, UNKNOWN)
# Not yet settled: a later part of the same conversation waits for these.
OPEN_STATES = (PENDING, RETRY, SENDING)


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        TABLE,
        metadata,
        sa.Column("id", sa.Integer, sa.Sequence("nps_outbox_seq", optional=True), primary_key=True),
        sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
        # The output channel's name ("facebook", "whatsapp", "twilio").
        sa.Column("channel", sa.String(32), nullable=False),
        # JSON of what rebuilds the output channel besides its connector
        # (Twilio: the number the customer wrote to, {"from": "+1500..."}).
        sa.Column("route", sa.Text, nullable=False, default="{}"),
        sa.Column("turn_key", sa.String(255), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),  # JSON of the rendered part
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("claim", sa.String(32)),  # token of the process sending it
        sa.Column("lease_until", sa.Float),
        sa.Column("platform_message_id", sa.String(255), index=True),
        sa.Column("last_error", sa.String(500)),  # redacted: no phone numbers
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("sent_at", sa.Float),
        sa.UniqueConstraint("channel", "turn_key", "seq", name="uq_nps_outbox_part"),
        sa.Index("ix_nps_outbox_due", "state", "next_attempt_at"),
    )


def create_outbox(engine: sa.engine.Engine) -> sa.Table:
    """The table, created if missing. Two processes creating it at once: the
    loser's error is ignored once the table exists."""
    metadata = sa.MetaData()
    table = outbox_table(metadata)
    try:
        metadata.create_all(engine, checkfirst=True)
    except sa.exc.SQLAlchemyError:
        if not sa.inspect(engine).has_table(TABLE):
            raise
    return table
