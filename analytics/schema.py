"""The projection's tables: one row per response (survey), per driver
mention, per why-answer, per known-issue offer and per extra comment.

`analytics.segments` builds rows for these tables by column name and
`analytics.projection` writes and reads them; this module only says what
the tables are.

Every string column has a length, and `analytics.segments` clamps values to
it: on PostgreSQL one over-long value would otherwise fail the whole update."""

from __future__ import annotations

import sqlalchemy as sa

from analytics import pseudonym

# Bumped whenever a table changes: a projection of another version is
# dropped and rebuilt from the tracker store (see Projection.ensure_tables).
# 3: the person is a keyed pseudonym, never the raw sender id.
# 4: responses.why_depth, why_stop, why_driver (how the why-chain ended).
# 5: responses.role and the employees' columns, table employee_drivers.
SCHEMA_VERSION = "5"

# responses.role: who answered. Customers never set the bot's `role` slot;
# an employee's mirror survey (a staff-only signed link) sets "employee".
CUSTOMER = "customer"
EMPLOYEE = "employee"
ROLES = (CUSTOMER, EMPLOYEE)

metadata = sa.MetaData()

responses = sa.Table(
    "responses",
    metadata,
    sa.Column("response_id", sa.BigInteger, primary_key=True, autoincrement=False),
    # analytics.pseudonym of the conversation id (never the raw id, which is
    # a phone number on WhatsApp and SMS).
    sa.Column("person", sa.String(pseudonym.LENGTH), nullable=False, index=True),
    sa.Column("channel", sa.String(64)),
    sa.Column("touchpoint", sa.String(255)),
    sa.Column("started_at", sa.Float, index=True),
    sa.Column("last_event_at", sa.Float),
    sa.Column("last_event_id", sa.BigInteger),
    # A later session start or restart of the same sender ended this segment.
    sa.Column("closed", sa.Boolean, nullable=False),
    sa.Column("nps_score", sa.Integer),
    sa.Column("nps_group", sa.String(16)),
    sa.Column("reason", sa.Text),
    sa.Column("improvement", sa.Text),
    sa.Column("valued_most", sa.Text),
    sa.Column("extra_comment", sa.Text),
    sa.Column("known_issue", sa.String(255)),
    sa.Column("issue_resolved", sa.Boolean),
    sa.Column("nps_score_after", sa.Integer),
    sa.Column("contact_consent", sa.Boolean),
    sa.Column("survey_outcome", sa.String(32)),
    # The driver the first "why?" probed (nps.drivers.main_negative of the
    # drivers known when it was asked); NULL: generic whys, or none asked.
    sa.Column("probed_driver", sa.String(255)),
    # How the why-chain ended, from the bot's slots of the same names (NULL:
    # never probed, or a conversation from before the bot wrote them):
    # answers kept in why_chain, nps.why_stops value, and the driver the last
    # "why?" probed (it follows the driver the last answer named).
    sa.Column("why_depth", sa.Integer),
    sa.Column("why_stop", sa.String(32)),
    sa.Column("why_driver", sa.String(255)),
    # CUSTOMER or EMPLOYEE. Every customer statistic reads only CUSTOMER rows
    # (analytics.dataset.load_dataset splits them).
    sa.Column("role", sa.String(16), nullable=False, index=True, server_default=CUSTOMER),
    # The employee's mirror survey (NULL for customers): the score they think
    # customers give, why customers recommend us, what they complain about
    # most, the fix proposed, and the survey wave ("2026-11"; the month the
    # conversation started when the link named none).
    sa.Column("predicted_score", sa.Integer),
    sa.Column("predicted_praise", sa.Text),
    sa.Column("predicted_complaint", sa.Text),
    sa.Column("proposed_fix", sa.Text),
    sa.Column("survey_wave", sa.String(32)),
)

driver_mentions = sa.Table(
    "driver_mentions",
    metadata,
    sa.Column("response_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("driver", sa.String(255), nullable=False, index=True),
    sa.Column("polarity", sa.String(8)),
)

# The drivers an employee believes customers raise (slot `employee_drivers`:
# praise -> pos, complaint and whys -> neg). Apart from driver_mentions, so
# that nothing reading customers' mentions can count an employee's.
employee_drivers = sa.Table(
    "employee_drivers",
    metadata,
    sa.Column("response_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("driver", sa.String(255), nullable=False, index=True),
    sa.Column("polarity", sa.String(8)),
)

why_answers = sa.Table(
    "why_answers",
    metadata,
    sa.Column("response_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("answer", sa.Text),
)

known_issue_offers = sa.Table(
    "known_issue_offers",
    metadata,
    sa.Column("response_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("known_issue", sa.String(255), nullable=False),
    sa.Column("issue_resolved", sa.Boolean),
    sa.Column("score_before", sa.Integer),
    sa.Column("score_after", sa.Integer),
)

# Comments left instead of a survey (the person was surveyed recently).
extra_comments = sa.Table(
    "extra_comments",
    metadata,
    sa.Column("segment_id", sa.BigInteger, primary_key=True, autoincrement=False),
    # analytics.pseudonym of the conversation id (never the raw id, which is
    # a phone number on WhatsApp and SMS).
    sa.Column("person", sa.String(pseudonym.LENGTH), nullable=False, index=True),
    sa.Column("channel", sa.String(64)),
    sa.Column("at", sa.Float),
    sa.Column("comment", sa.Text),
)

projection_state = sa.Table(
    "projection_state",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text),
)

CHILD_TABLES = (driver_mentions, employee_drivers, why_answers, known_issue_offers)
DATA_TABLES = (responses, *CHILD_TABLES, extra_comments)


def columns(table: sa.Table) -> tuple[str, ...]:
    """The table's column names, in the order rows are inserted."""
    return tuple(c.name for c in table.columns)


RESPONSE_COLUMNS = columns(responses)
