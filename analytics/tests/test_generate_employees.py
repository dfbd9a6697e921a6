"""The generator's employees: written along the bot's employee path, kept
apart from the customers (who stay exactly the same), more optimistic than
the customers, and believing in another driver mix (so the gap has blind
spots and myths)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from analytics import gap
from analytics.dataset import load_dataset
from analytics.db import tracker_engine, writable_engine
from analytics.drivers import Catalogue
from analytics.generate import BotModel, DomainDrift, generate
from analytics.projection import Projection
from analytics.report import build_report
from analytics.tests.conftest import person

END = 1_796_000_000.0  # 2026-11-30 00:53 UTC


def _dataset(url, tmp_path, name):
    proj = Projection(writable_engine(f"sqlite:///{tmp_path / name}"), None)
    proj.update(tracker_engine(url))
    return load_dataset(proj)


@pytest.fixture(scope="module")
def bot():
    bot = BotModel.load()
    if not bot.has_employees:
        pytest.skip("the bot's domain has no employee survey yet (slot 'role')")
    return bot


def test_employees_as_planned_and_customers_unchanged(bot, tmp_path):
    with_staff = f"sqlite:///{tmp_path / 'with.db'}"
    staff: list = []
    plans = generate(
        writable_engine(with_staff), 600, seed=5, end=END, bot=bot, employee_plans=staff
    )
    assert len(staff) == 600 // 20  # the default: one per 20 conversations
    without = f"sqlite:///{tmp_path / 'without.db'}"
    alone = generate(writable_engine(without), 600, seed=5, end=END, bot=bot, employees=0)
    assert [p.sender_id for p in plans] == [p.sender_id for p in alone]

    mixed, customers = _dataset(with_staff, tmp_path, "a.db"), _dataset(without, tmp_path, "b.db")
    catalogue = Catalogue({}, {})
    assert build_report(mixed, catalogue, now=END) == build_report(customers, catalogue, now=END)
    assert customers.employees.empty

    e = mixed.employees.set_index("person")
    for plan in staff:
        row = e.loc[person(plan.sender_id)]
        assert row["role"] == "employee" and row["channel"] == "socketio"
        assert row["touchpoint"] == plan.store and row["survey_wave"] == plan.wave
        predicted = row["predicted_score"]
        assert (None if pd.isna(predicted) else predicted) == plan.predicted_score
        got = mixed.employee_mentions[mixed.employee_mentions["response_id"] == row["response_id"]]
        tags = [f"{d}:{p}" for d, p in zip(got["driver"], got["polarity"], strict=True)]
        assert tags == plan.drivers
    # Waves: the month of the end (2026-11, 28 days of it) and every six
    # months before it whose month lies wholly in the 18 months (which start
    # on 2025-05-31, so not 2025-05).
    assert sorted({p.wave for p in staff}) == ["2025-11", "2026-05", "2026-11"]
    # Staff predict more than customers give (Hult et al.).
    predicted = [p.predicted_score for p in staff if p.predicted_score is not None]
    scores = [p.score for p in plans if p.score is not None]
    assert sum(predicted) / len(predicted) > sum(scores) / len(scores) + 1.0


def test_the_gap_has_blind_spots_and_myths(bot, tmp_path):
    url = f"sqlite:///{tmp_path / 'big.db'}"
    generate(writable_engine(url), 2000, seed=7, end=END, bot=bot)
    result = gap.build_gap(_dataset(url, tmp_path, "p.db"))
    assert result["employee"]["predicted_nps"] > result["customer"]["nps"] + 30
    assert result["nps_gap"]["significant"]
    spots = {d["driver"] for d in result["blind_spots"]}
    myths = {d["driver"] for d in result["myths"]}
    # As EMPLOYEE_PRAISE / EMPLOYEE_COMPLAINTS make them: staff and price
    # over-expected, the hotline and the app under-expected.
    assert {"staff", "price"} <= myths
    assert spots & {"customer_support", "website_app", "returns_complaints"}


def test_employees_need_the_bot_s_employee_survey(tmp_path):
    bot = BotModel.load()
    slots = {k: v for k, v in bot.domain["slots"].items() if k != "role"}
    old = dataclasses.replace(bot, domain={**bot.domain, "slots": slots})
    assert not old.has_employees
    url = f"sqlite:///{tmp_path / 'old.db'}"
    staff: list = []
    generate(writable_engine(url), 60, seed=1, end=END, bot=old, employee_plans=staff)
    assert staff == []  # by default: none, and no error
    with pytest.raises(DomainDrift, match="role"):
        generate(writable_engine(url), 60, seed=1, end=END, bot=old, employees=3)
