"""Rename conversations stored before channel prefixes to their new ids.

    python -m storage.migrate_ids --db URL [--dry-run]

Before issue 9 each channel stored its conversations under the platform's
bare id ("48600100200", a PSID, a web chat or REST sender of the client's
choosing). Now a conversation is ``<channel>:<platform id>``
(``nps.identity``); this renames the old ones in Rasa's ``events`` table by
the ``input_channel`` of each conversation's first user message:

    facebook  -> messenger:<id>        whatsapp -> whatsapp:+<number>
    twilio    -> sms:+<number>, or whatsapp:+<number> for "whatsapp:+…"
    socketio  -> web:<id>              rest     -> rest:<id>

Ids that already have a channel prefix are left alone, so a second run
changes nothing. A conversation whose new id is already taken (the same
person on WhatsApp Cloud and on WhatsApp through Twilio), that has no user
message or an unknown channel, or whose id is not a phone number on a phone
channel, is left as it is and counted, for the operator to decide.
Run it with the bot stopped, then rebuild the analytics projection
(``python -m analytics project --rebuild``).

SQLAlchemy Core ``text()`` statements only: runs on the bot environment's
SQLAlchemy 1.4 and on 2.0, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable

import sqlalchemy as sa

from nps.identity import IdentityError, conversation_id, split

# Rasa's events.sender_id column.
MAX_ID_CHARS = 255

CHANNEL_OF_INPUT = {
    "facebook": "messenger",
    "whatsapp": "whatsapp",
    "socketio": "web",
    "rest": "rest",
}


def new_id(old: str, input_channel: str | None) -> str:
    """The prefixed id of a conversation stored as `old`; raises
    IdentityError when there is none."""
    if input_channel == "twilio":
        channel = "whatsapp" if old.startswith("whatsapp:") else "sms"
    else:
        channel = CHANNEL_OF_INPUT.get(input_channel or "", "")
    if not channel:
        raise IdentityError(f"unknown input channel {input_channel!r}")
    new = conversation_id(channel, old)
    if len(new) > MAX_ID_CHARS:
        raise IdentityError("too long")
    return new


def first_channels(connection: sa.engine.Connection) -> dict[str, str | None]:
    """Each unprefixed conversation and the input_channel of its first user
    message (None when it has none)."""
    found: dict[str, str | None] = {}
    for (sender,) in connection.execute(sa.text("SELECT DISTINCT sender_id FROM events")):
        if sender is not None and not split(sender)[0]:
            found[sender] = None
    rows = connection.execute(
        sa.text("SELECT sender_id, data FROM events WHERE type_name = 'user' ORDER BY id")
    )
    for sender, data in rows:
        if sender in found and found[sender] is None:
            try:
                found[sender] = json.loads(data).get("input_channel")
            except (TypeError, ValueError):
                continue
    return found


def plan(
    channels: dict[str, str | None], existing: Iterable[str]
) -> tuple[dict[str, str], Counter]:
    """{old: new} to rename, and counts of what was found."""
    taken = set(existing)
    renames: dict[str, str] = {}
    counts: Counter = Counter()
    for old, input_channel in sorted(channels.items()):
        if input_channel is None:
            counts["no user message"] += 1
            continue
        try:
            new = new_id(old, input_channel)
        except IdentityError:
            counts[f"unusable ({input_channel})"] += 1
            continue
        if new in taken:
            counts[f"conflict ({input_channel})"] += 1
            continue
        taken.add(new)
        renames[old] = new
        counts[f"renamed {input_channel} -> {split(new)[0]}"] += 1
    return renames, counts


def migrate(db_url: str, dry_run: bool = False) -> Counter:
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as connection:
            channels = first_channels(connection)
            existing = [
                s for (s,) in connection.execute(sa.text("SELECT DISTINCT sender_id FROM events"))
            ]
            renames, counts = plan(channels, existing)
            counts["already prefixed"] = sum(1 for s in existing if s and split(s)[0])
            if not dry_run:
                for old, new in renames.items():
                    connection.execute(
                        sa.text("UPDATE events SET sender_id = :new WHERE sender_id = :old"),
                        {"new": new, "old": old},
                    )
    finally:
        engine.dispose()
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m storage.migrate_ids", description=__doc__)
    parser.add_argument("--db", required=True, help="the tracker store's SQLAlchemy URL")
    parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
    args = parser.parse_args(argv)
    try:
        counts = migrate(args.db, args.dry_run)
    except sa.exc.SQLAlchemyError as error:
        # nothing was changed: the renames run in one transaction
        print(f"migrate_ids: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    verb = "would be" if args.dry_run else "were"
    print(f"conversations ({'dry run, nothing changed' if args.dry_run else 'changed'}):")
    for what, count in sorted(counts.items()):
        print(f"  {what}: {count}")
    renamed = sum(c for w, c in counts.items() if w.startswith("renamed"))
    print(f"{renamed} {verb} renamed.")
    if renamed and not args.dry_run:
        print("Rebuild the analytics projection: python -m analytics project --rebuild")
    return 0


if __name__ == "__main__":
    sys.exit(main())
