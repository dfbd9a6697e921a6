"""The perception gap on a hand-worked example (analytics.gap), Fisher's
exact test (analytics.stats), and employees kept out of every customer
statistic, end to end through the projection."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from analytics import gap, schema, stats
from analytics.dataset import Dataset, Filters, filter_dataset, load_dataset, scope_employees
from analytics.db import tracker_engine, writable_engine
from analytics.drivers import Catalogue
from analytics.projection import Projection
from analytics.report import build_report
from analytics.tests.conftest import Conversation, write

NOV = dt.datetime(2026, 11, 10, tzinfo=dt.timezone.utc).timestamp()
OCT = dt.datetime(2026, 10, 10, tzinfo=dt.timezone.utc).timestamp()


# --- the hand-worked example -------------------------------------------------------
#
# Customers: 48 responses. 40 have a score and at least one driver (the
# driver base); 5 have a score and no driver; 3 named drivers but gave no
# score (neither in NPS nor in the driver base).
#   delivery            customers 0-19 (one of them names it twice)  20/40 = 0.500
#   staff               customers 20-23                                4/40 = 0.100
#   price               customers 24-35                               12/40 = 0.300
#   website_app         customers 36-39                                4/40 = 0.100
#   returns_complaints  customers 0-5 (besides delivery)               6/40 = 0.150
# Scores: 15 promoters, 10 passives, 20 detractors among the 45 scored.
#
# Employees: 22 responses; 20 named a driver (the base), 2 did not.
#   staff               employees 0-11                                12/20 = 0.600
#   delivery            employees 12-13                                2/20 = 0.100
#   price               employees 14-19                                6/20 = 0.300
#   returns_complaints  employee 0 (besides staff)                     1/20 = 0.050
#   website_app         nobody                                         0/20 = 0.000
# Predicted scores: 12 x 9, 6 x 8, 2 x 6, 2 not given.


def _customers() -> tuple[pd.DataFrame, pd.DataFrame]:
    scores = [10] * 8 + [9] * 7 + [8] * 5 + [7] * 5 + [3] * 15  # 40 with drivers
    scores += [0] * 5  # 45: scored, no driver
    scores += [None] * 3  # 48: drivers, no score
    responses = pd.DataFrame(
        {
            "response_id": list(range(1, 49)),
            "nps_score": pd.array(scores, dtype="Int64"),
            "touchpoint": ["store_a"] * 30 + ["store_b"] * 10 + [None] * 8,
            "started_at": [NOV] * 40 + [OCT] * 8,
            "channel": ["facebook"] * 48,
        }
    )
    rows = []

    def add(i, driver, polarity="neg"):
        rows.append((i + 1, driver, polarity))

    for i in range(20):
        add(i, "delivery")
    add(0, "delivery", "pos")  # the same driver twice: one respondent
    for i in range(20, 24):
        add(i, "staff", "pos")
    for i in range(24, 36):
        add(i, "price")
    for i in range(36, 40):
        add(i, "website_app")
    for i in range(6):
        add(i, "returns_complaints")
    for i in range(45, 48):
        add(i, "assortment")  # unscored: outside the base
    return responses, pd.DataFrame(rows, columns=["response_id", "driver", "polarity"])


def _employees() -> tuple[pd.DataFrame, pd.DataFrame]:
    predicted = [9] * 12 + [8] * 6 + [6] * 2 + [None] * 2
    employees = pd.DataFrame(
        {
            "response_id": list(range(101, 123)),
            "predicted_score": pd.array(predicted, dtype="Int64"),
            "touchpoint": ["store_a"] * 15 + ["store_b"] * 7,
            "survey_wave": ["2026-11"] * 22,
            "started_at": [NOV] * 22,
        }
    )
    rows = []
    for j in range(12):
        rows.append((101 + j, "staff", "pos"))
    for j in range(12, 14):
        rows.append((101 + j, "delivery", "neg"))
    for j in range(14, 20):
        rows.append((101 + j, "price", "neg"))
    rows.append((101, "returns_complaints", "neg"))
    return employees, pd.DataFrame(rows, columns=["response_id", "driver", "polarity"])


def _dataset() -> Dataset:
    responses, mentions = _customers()
    employees, believed = _employees()
    empty = pd.DataFrame(columns=["response_id"])
    return Dataset(
        responses=responses,
        mentions=mentions,
        whys=empty,
        offers=empty,
        extra_comments=pd.DataFrame(columns=["at", "channel", "person"]),
        employees=employees,
        employee_mentions=believed,
    )


def test_driver_shares_gap_and_p_values():
    responses, mentions = _customers()
    employees, believed = _employees()
    table = gap.driver_gaps(responses, mentions, employees, believed).set_index("driver")
    assert set(table["customer_base"]) == {40} and set(table["employee_base"]) == {20}
    assert table.loc["delivery", "customer_mentions"] == 20  # named twice, counted once
    assert "assortment" not in table.index  # only unscored customers named it

    # Shares and gap, from the tables in the comment above.
    expected = {
        "delivery": (0.5, 0.1),
        "staff": (0.1, 0.6),
        "price": (0.3, 0.3),
        "website_app": (0.1, 0.0),
        "returns_complaints": (0.15, 0.05),
    }
    for driver, (c, e) in expected.items():
        assert table.loc[driver, "customer_share"] == pytest.approx(c)
        assert table.loc[driver, "employee_share"] == pytest.approx(e)
        assert table.loc[driver, "gap"] == pytest.approx(c - e)

    # delivery, by hand: pooled p = 22/60 = 0.36667; expected counts 14.7,
    # 25.3 (customers) and 7.3, 12.7 (employees), all >= 5: the z-test.
    # SE = sqrt(0.36667 * 0.63333 * (1/40 + 1/20)) = sqrt(0.017417) = 0.13197
    # z = (0.5 - 0.1) / 0.13197 = 3.0309; p = erfc(3.0309 / sqrt 2) = 0.00244.
    assert table.loc["delivery", "test"] == "z"
    assert table.loc["delivery", "p_value"] == pytest.approx(0.00244, abs=1e-5)
    # staff: pooled 16/60 = 0.26667, expected 10.7, 29.3, 5.3, 14.7: z-test.
    # SE = sqrt(0.26667 * 0.73333 * 0.075) = 0.12111; z = -0.5 / 0.12111 = -4.1286;
    # p = erfc(4.1286 / sqrt 2) = 3.65e-5.
    assert table.loc["staff", "test"] == "z"
    assert table.loc["staff", "p_value"] == pytest.approx(3.65e-5, rel=1e-2)
    # price: equal shares, z = 0, p = 1.
    assert table.loc["price", "p_value"] == pytest.approx(1.0)
    # website_app: 4 of 60 raise it; employees' expected count 20 * 4/60 =
    # 1.3 < 5, so Fisher's exact test. Margins 40 / 20, 4 hits:
    # P(x customers) = C(40, x) C(20, 4 - x) / C(60, 4), C(60, 4) = 487635:
    # x=4: 91390, x=3: 197600, x=2: 148200, x=1: 45600, x=0: 4845.
    # Observed x=4; tables no more likely: x=4, 1, 0:
    # p = (91390 + 45600 + 4845) / 487635 = 0.29086.
    assert table.loc["website_app", "test"] == "fisher"
    assert table.loc["website_app", "p_value"] == pytest.approx(141835 / 487635)
    # returns_complaints: 7 hits, employees' expected 2.3: Fisher; by the
    # same sum over C(40, x) C(20, 7 - x) / C(60, 7) = 0.40652.
    assert table.loc["returns_complaints", "test"] == "fisher"
    assert table.loc["returns_complaints", "p_value"] == pytest.approx(0.40652, abs=1e-5)

    # Ranked by |gap|: 0.5, 0.4, then the two 0.1 by id, then 0.
    assert list(table.index) == [
        "staff",
        "delivery",
        "returns_complaints",
        "website_app",
        "price",
    ]
    assert table["significant"].to_dict() == {
        "staff": True,
        "delivery": True,
        "returns_complaints": False,
        "website_app": False,
        "price": False,
    }


def test_blind_spots_and_myths():
    responses, mentions = _customers()
    employees, believed = _employees()
    table = gap.driver_gaps(responses, mentions, employees, believed)
    # Blind spots: customers >= 0.10 and employees < half of it. delivery
    # (0.5 vs 0.1 < 0.25), returns (0.15 vs 0.05 < 0.075), website_app (0.10,
    # exactly the threshold, vs 0 < 0.05). Not staff (0.1 vs 0.6), not price
    # (0.3 vs 0.3 is not < 0.15).
    spots = gap.blind_spots(table)
    assert spots["driver"].tolist() == ["delivery", "returns_complaints", "website_app"]
    assert spots["significant"].tolist() == [True, False, False]
    # Myths: employees >= 0.10 and customers < half of it: staff only (0.6
    # vs 0.1 < 0.3); delivery's 0.1 from employees is not "rare" for customers.
    assert gap.myths(table)["driver"].tolist() == ["staff"]


def test_scores_predicted_against_actual():
    ds = _dataset()
    s = gap.scores(ds.responses, ds.employees)
    # Customers: 15 promoters, 10 passives, 20 detractors of 45 scored:
    # NPS = (15 - 20) / 45 = -11.11. Adjusted Wald: n' = 48,
    # p' = 15.75/48 = 0.32813, d' = 20.75/48 = 0.43229,
    # var = 0.32813 + 0.43229 - (-0.10417)^2 = 0.74957, SE = sqrt(0.74957/48) = 0.12496,
    # interval = -10.42 -/+ 1.96 * 12.496 = [-34.9, 14.1].
    c = s["customer"]
    assert (c["responses"], c["scored"]) == (48, 45)
    assert c["nps"] == pytest.approx(-100 * 5 / 45)
    assert c["ci95"] == pytest.approx([-34.9, 14.1], abs=0.05)
    # Employees: 20 predicted (12 x 9, 6 x 8, 2 x 6): mean 168 / 20 = 8.4,
    # predicted NPS = (12 - 2) / 20 = 50.
    e = s["employee"]
    assert (e["responses"], e["predicted"]) == (22, 20)
    assert e["predicted_score_mean"] == pytest.approx(8.4)
    assert e["predicted_nps"] == pytest.approx(50.0)
    lo, hi = stats.adjusted_wald_ci(12, 2, 20)
    assert e["ci95"] == pytest.approx([lo, hi])
    # Predicted minus actual, tested as two NPS (stats.compare_nps).
    assert s["nps_gap"]["difference"] == pytest.approx(50 + 100 * 5 / 45)
    assert s["nps_gap"]["significant"] is True


def test_build_gap_shapes_stores_and_waves():
    labels = {"delivery": "Dostawa", "staff": "Obsługa w sklepie"}
    result = gap.build_gap(_dataset(), Catalogue(labels, {}))
    assert result["customer"]["nps"] == -11.1 and result["customer"]["ci95"] == [-34.9, 14.1]
    assert result["employee"]["predicted_score_mean"] == 8.4
    assert result["employee"]["predicted_nps"] == 50.0
    first = result["drivers"][0]
    assert {"driver", "customer_share", "employee_share", "gap", "p_value"} <= set(first)
    assert (first["driver"], first["label"], first["gap"]) == ("staff", "Obsługa w sklepie", -0.5)
    assert [d["driver"] for d in result["blind_spots"]] == [
        "delivery",
        "returns_complaints",
        "website_app",
    ]
    assert [d["driver"] for d in result["myths"]] == ["staff"]
    # Stores: employees' stores first. store_a: customers 1-30 (all scored),
    # employees 101-115; store_b: customers 31-40, employees 116-122; the
    # customers without a touchpoint last, under "none".
    stores = {s["store"]: s for s in result["stores"]}
    assert [s["store"] for s in result["stores"]] == ["store_a", "store_b", "none"]
    assert stores["store_a"]["customer"]["scored"] == 30
    assert stores["store_a"]["employee"]["responses"] == 15
    assert stores["store_b"]["employee"]["predicted"] == 5  # 116-120 predicted; 121, 122 not
    assert stores["none"]["employee"]["responses"] == 0
    # One wave, 2026-11: customers who started in November 2026 (1-40, all
    # with a driver); the October ones (41-48) are outside it.
    (wave,) = result["waves"]
    assert wave["wave"] == "2026-11" and wave["matched"] is True
    assert wave["customer"]["responses"] == 40
    # In November, 15 promoters, 10 passives, 15 detractors: NPS 0.
    assert wave["customer"]["nps"] == 0.0
    assert wave["customer_driver_base"] == 40
    assert [d["driver"] for d in wave["myths"]] == ["staff"]


def test_wave_periods():
    nov = gap.wave_period("2026-11")
    assert nov == (
        dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc).timestamp(),
        dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc).timestamp(),
    )
    assert (
        gap.wave_period("2026-12")[1] == dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc).timestamp()
    )
    q4 = gap.wave_period("2026-Q4")
    assert q4[0] == dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc).timestamp()
    assert q4[1] == dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc).timestamp()
    assert gap.wave_period("2026")[1] == dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc).timestamp()
    assert gap.wave_period("wiosna") is None and gap.wave_period("2026-13") is None


def test_fisher_exact_by_hand():
    # [[3, 1], [1, 3]]: P(x) = C(4, x) C(4, 4 - x) / C(8, 4) = 1, 16, 36, 16, 1 (/70).
    # Observed x = 3 (16/70); no more likely: x = 0, 1, 3, 4: p = 34/70.
    assert stats.fisher_exact_p(3, 4, 1, 4) == pytest.approx(34 / 70)
    assert stats.fisher_exact_p(0, 5, 0, 5) == pytest.approx(1.0)
    assert stats.fisher_exact_p(0, 0, 1, 2) is None
    assert stats.compare_proportions(3, 4, 1, 4)[0] == "fisher"
    test, p = stats.compare_proportions(50, 100, 30, 100)
    z = stats.two_proportion_z(50, 100, 30, 100)
    assert test == "z" and p == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))


def test_filters_and_scope_cut_employees():
    ds = _dataset()
    part = filter_dataset(ds, Filters(touchpoints=("store_b",)))
    assert set(part.employees["touchpoint"]) == {"store_b"} and len(part.employees) == 7
    assert set(part.employee_mentions["response_id"]) <= set(part.employees["response_id"])
    # Channels are the customers' own: employees stay.
    assert len(filter_dataset(ds, Filters(channels=("whatsapp",))).employees) == 22
    later = filter_dataset(ds, Filters(since=dt.date(2026, 12, 1)))
    assert later.employees.empty
    mine = scope_employees(ds, ["store_a"])
    assert len(mine.employees) == 15 and len(mine.responses) == 48


# --- employees never counted as customers, end to end ------------------------------


def _customer_conversations():
    out = []
    for i, (score, drivers) in enumerate(
        [(10, ["staff:pos"]), (3, ["delivery:neg"]), (8, ["price:neg"]), (6, ["delivery:neg"])]
    ):
        c = (
            Conversation(f"customer-{i}", "whatsapp", start=NOV + 1000 * i)
            .session()
            .user("/start")
            .slot("touchpoint", "store_a")
            .form()
            .slot("nps_score", score)
            .user("komentarz")
            .slot("reason", "komentarz")
            .slot("drivers", drivers)
            .form(None)
            .slot("survey_outcome", "finished")
        )
        out.append(c)
    return out


def _employee(i: int, predicted, wave="2026-11", store="store_a"):
    c = (
        Conversation(f"employee-{i}", "socketio", start=NOV + 50_000 + 1000 * i)
        .session()
        .user("/start")
        .slot("role", "employee")
        .slot("touchpoint", store)
    )
    if wave is not None:
        c = c.slot("survey_wave", wave)
    return (
        c.form()
        .slot("predicted_score", predicted)
        .user("miła obsługa")
        .slot("predicted_praise", "miła obsługa")
        .slot("employee_drivers", ["staff:pos"])
        .user("ceny")
        .slot("predicted_complaint", "ceny")
        .slot("employee_drivers", ["staff:pos", "price:neg"])
        .slot("requested_slot", "why_answer")
        .user("bo konkurencja jest tańsza")
        .slot("why_chain", ["bo konkurencja jest tańsza"])
        .slot("why_stop", "specific")
        .slot("why_depth", 1)
        .user("niższe ceny")
        .slot("proposed_fix", "niższe ceny")
        .form(None)
        .slot("survey_outcome", "finished")
    )


def _load(tmp_path, name, *conversations):
    url = f"sqlite:///{tmp_path / name}"
    write(url, *conversations)
    proj = Projection(writable_engine(f"sqlite:///{tmp_path / ('p-' + name)}"), None)
    proj.update(tracker_engine(url))
    return proj


def test_employees_never_change_customer_statistics(tmp_path):
    customers = _customer_conversations()
    alone = load_dataset(_load(tmp_path, "alone.db", *customers))
    employees = [_employee(0, 9), _employee(1, 10.0), _employee(2, 7, wave=None)]
    # An employee's `nps_score` set by mistake must not be counted either.
    employees.append(_employee(3, 8).slot("nps_score", 0))
    proj = _load(tmp_path, "mixed.db", *_customer_conversations(), *employees)
    mixed = load_dataset(proj)
    catalogue = Catalogue({}, {})

    def report(ds):
        r = build_report(ds, catalogue, now=NOV + 10**6)
        r.pop("status")
        return r

    assert report(mixed) == report(alone)
    assert report(mixed)["responses"] == 4 and report(mixed)["nps"] == -25.0
    pd.testing.assert_frame_equal(stats.trend(mixed.responses), stats.trend(alone.responses))
    pd.testing.assert_frame_equal(
        stats.driver_table(mixed.responses, mixed.mentions),
        stats.driver_table(alone.responses, alone.mentions),
    )
    assert mixed.whys.empty  # the employees' whys are not customers' root causes
    assert proj.latest_responses(10)["role"].tolist() == ["customer"] * 4

    # The employees themselves.
    e = mixed.employees.sort_values("response_id")
    assert e["role"].tolist() == ["employee"] * 4
    assert e["predicted_score"].tolist() == [9, 10, 7, 8]
    assert e["nps_score"].isna().all() and e["nps_group"].isna().all()
    assert e["survey_wave"].tolist() == ["2026-11"] * 4  # the third from its start month
    assert e["proposed_fix"].tolist() == ["niższe ceny"] * 4
    assert e["why_stop"].tolist() == ["specific"] * 4
    believed = mixed.employee_mentions
    assert sorted(set(zip(believed["driver"], believed["polarity"], strict=True))) == [
        ("price", "neg"),
        ("staff", "pos"),
    ]
    assert len(believed) == 8
    with proj.engine.connect() as conn:
        stored = conn.execute(schema.driver_mentions.select()).fetchall()
    assert len(stored) == 4  # only the customers' mentions are driver mentions


def test_role_from_session_start_and_other_values(tmp_path):
    # The role set right after the session started (a link read at session
    # start), before the first message, still makes an employee; any other
    # value is a customer.
    early = (
        Conversation("early", "socketio", start=NOV)
        .session()
        .slot("role", "employee")
        .user("/start")
        .form()
        .slot("predicted_score", 9)
    )
    odd = (
        Conversation("odd", "rest", start=NOV + 10)
        .session()
        .user("/start")
        .slot("role", "manager")
        .form()
        .slot("nps_score", 9)
    )
    ds = load_dataset(_load(tmp_path, "roles.db", early, odd))
    assert ds.employees["predicted_score"].tolist() == [9]
    assert ds.responses["nps_score"].tolist() == [9]
