"""`python -m analytics gap` against a store whose answers are known."""

from __future__ import annotations

import json

import pytest

from analytics.__main__ import main
from analytics.tests.conftest import write
from analytics.tests.test_gap import NOV, _customer_conversations, _employee
from analytics.tests.test_projection import hand_built


def gap(capsys, *args) -> dict:
    assert main(["gap", "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def mixed_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    employees = [_employee(0, 9), _employee(1, 10), _employee(2, 7, store="store_b")]
    write(url, *_customer_conversations(), *employees)
    return url


def test_gap_json(mixed_store, capsys):
    r = gap(capsys, "--db", mixed_store)
    # Customers (test_gap._customer_conversations): 10, 3, 8, 6 at store_a:
    # P = 1, D = 2 of 4: NPS = -25. Adjusted Wald: n' = 7, p' = 1.75/7 = 0.25,
    # d' = 2.75/7 = 0.39286, var = 0.64286 - 0.02041 = 0.62245,
    # SE = sqrt(0.62245/7) = 0.29820, interval = -14.29 -/+ 58.45 = [-72.7, 44.2].
    assert r["customer"] == {"responses": 4, "scored": 4, "nps": -25.0, "ci95": [-72.7, 44.2]}
    # Employees predicted 9, 10, 7: mean 26/3 = 8.67; predicted NPS (2 - 0)/3 = 66.7.
    e = r["employee"]
    assert (e["responses"], e["predicted_score_mean"], e["predicted_nps"]) == (3, 8.67, 66.7)
    drivers = {d["driver"]: d for d in r["drivers"]}
    assert set(drivers["staff"]) >= {"driver", "customer_share", "employee_share", "gap", "p_value"}
    # Customers with a driver: staff 1/4, delivery 2/4, price 1/4. Employees
    # (3): staff 3/3 and price 3/3 each.
    assert (drivers["staff"]["customer_share"], drivers["staff"]["employee_share"]) == (0.25, 1.0)
    assert drivers["staff"]["gap"] == -0.75
    assert drivers["delivery"]["gap"] == 0.5
    # staff: 1 + 3 of 7 raise it: employees' expected 3 * 4/7 = 1.7 < 5, Fisher:
    # P(x) = C(4, x) C(3, 4 - x) / C(7, 4) = 0, 4, 18, 12, 1 (/35) for x = 0..4;
    # observed x = 1 (4/35); no more likely: x = 1, 4: p = 5/35 = 0.1429.
    assert drivers["staff"]["test"] == "fisher" and drivers["staff"]["p_value"] == 0.1429
    # delivery: 2/4 customers vs 0/3: blind spot (0.5 >= 0.1, 0 < 0.25);
    # staff and price (employees 1.0, customers 0.25 < 0.5): myths.
    assert [d["driver"] for d in r["blind_spots"]] == ["delivery"]
    assert sorted(d["driver"] for d in r["myths"]) == ["price", "staff"]
    stores = {s["store"]: s for s in r["stores"]}
    assert stores["store_a"]["customer"]["scored"] == 4
    assert stores["store_a"]["employee"]["responses"] == 2
    assert stores["store_b"]["customer"]["scored"] == 0
    assert stores["store_b"]["employee"]["predicted_nps"] == 0.0  # one 7: a passive
    (wave,) = r["waves"]
    assert wave["wave"] == "2026-11" and wave["customer"]["responses"] == 4


def test_gap_filters_and_markdown(mixed_store, capsys):
    r = gap(capsys, "--db", mixed_store, "--touchpoint", "store_b")
    assert r["customer"]["responses"] == 0 and r["employee"]["responses"] == 1
    assert r["filters"]["touchpoint"] == ["store_b"]
    assert main(["gap", "--db", mixed_store, "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("# Perception gap")
    assert "## Blind spots" in md and "`delivery`" in md and "### Wave 2026-11" in md


def test_gap_without_employees(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    write(url, *hand_built())
    r = gap(capsys, "--db", url)
    assert r["customer"]["nps"] == 25.0  # as the report (test_cli)
    assert r["employee"] == {
        "responses": 0,
        "predicted": 0,
        "predicted_score_mean": None,
        "predicted_nps": None,
        "ci95": None,
    }
    assert all(d["employee_share"] is None and d["p_value"] is None for d in r["drivers"])
    assert r["blind_spots"] == [] and r["myths"] == [] and r["waves"] == []


def test_gap_bad_dates(mixed_store, capsys):
    assert main(["gap", "--db", mixed_store, "--since", "2026-12-02", "--until", "2026-12-01"]) == 2
    assert "--since is after --until" in capsys.readouterr().err


def test_gap_period_filter(mixed_store, capsys):
    # Everyone answered in November 2026 (test_gap.NOV); December has nobody.
    assert NOV < 1_796_083_200  # 2026-12-01
    r = gap(capsys, "--db", mixed_store, "--since", "2026-12-01")
    assert r["customer"]["responses"] == 0 and r["employee"]["responses"] == 0
