"""The closed loop's clock: every minute, open the cases the rules call for,
reopen the resolved ones whose customer gave a low new score, and send the
alerts that are due.

    python -m cases.worker            (make run starts it)
    python -m cases.worker --once

Each round reads the conversations through the analytics projection (brought
up to date first), writes only the cases' tables and the alerts' log, and
never stops on a bad round: the next one tries again.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass

from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Round:
    opened: int
    reopened: int
    alerts: int = 0


def open_and_reopen(store, tracker: Engine, projection, data_dir, now: float, rebuild=False):
    """Bring the projection up to date, open the cases the rules call for
    and reopen those with a low win-back score; (opened, reopened) lists."""
    from analytics.dataset import load_dataset
    from cases import opener
    from cases.rules import load_for

    rules = load_for(data_dir)
    due = opener.sla_due(data_dir)
    projection.update(tracker, rebuild=rebuild)
    ds = load_dataset(projection, parts=("texts", "whys"))
    opened = opener.open_cases(ds, rules, store, now, tracker=tracker, due=due)
    reopened = opener.reopen_low_winbacks(store, tracker, now)
    return opened, reopened


def one_round(settings, now: float | None = None) -> Round:
    from analytics.db import tracker_engine, writable_engine
    from analytics.projection import Projection
    from cases import alerts
    from cases.store import CaseStore, cases_engine

    now = time.time() if now is None else now
    engine = cases_engine(settings.cases_db_url)
    tracker = tracker_engine(settings.db_url)
    projection = Projection(writable_engine(settings.analytics_db_url), settings.analytics_schema)
    try:
        store = CaseStore(engine)
        store.ensure_tables()
        opened, reopened = open_and_reopen(store, tracker, projection, settings.data_dir, now)
        sent = alerts.run_once(settings, engine, out=_Quiet())
        return Round(len(opened), len(reopened), sent)
    finally:
        engine.dispose()
        tracker.dispose()


class _Quiet:
    """The alerter's progress lines, sent to the log instead of stdout."""

    def write(self, text: str) -> None:
        if text.strip():
            logger.info(text.strip())


def main(argv: list[str] | None = None) -> int:
    from analytics.settings import load_settings

    parser = argparse.ArgumentParser(
        prog="python -m cases.worker", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--once", action="store_true", help="one round, then exit")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between rounds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = load_settings()
    while True:
        try:
            done = one_round(settings)
            if done.opened or done.reopened or done.alerts:
                logger.info(
                    "cases: %d opened, %d reopened, %d alert(s)",
                    done.opened,
                    done.reopened,
                    done.alerts,
                )
        except Exception as exc:
            # The class only: a message may quote a customer's words.
            logger.warning("cases round failed: %s", exc.__class__.__name__)
            if args.once:
                raise
        if args.once:
            return 0
        time.sleep(args.every)


if __name__ == "__main__":
    sys.exit(main())
