"""Perception gap: what employees believe customers say (their mirror
survey) against what customers say. The figures are analytics.gap.build_gap's,
the same dict `python -m analytics gap` prints."""

import pandas as pd
import streamlit as st

from analytics import gap
from analytics.dashboard import charts, data, login, widgets
from analytics.dataset import scope_employees

st.title("Luka percepcji")
ds, error = data.dataset()
widgets.stop_without_data(ds, error)
part, _ = widgets.filtered(ds)
user = login.require_user()
if not user.analyst:
    # widgets.scoped cuts the customers; a store manager sees their own staff too.
    part = scope_employees(part, user.touchpoints)
catalogue = data.catalogue()
for problem in catalogue.problems:
    st.caption(problem)

if part.employees.empty:
    st.info(
        "Brak odpowiedzi pracowników w wybranym zakresie. Pracownicy odpowiadają z linku, "
        "który dostają tylko oni: python -m nps.links employee --store SKLEP."
    )
    st.stop()

result = gap.build_gap(part, catalogue)
customer, employee, nps_gap = result["customer"], result["employee"], result["nps_gap"]


def _ci(ci) -> str:
    return f"95%: {widgets.fmt(ci[0])} … {widgets.fmt(ci[1])}" if ci else "95%: –"


cols = st.columns(4)
cols[0].metric(
    "NPS klientów", widgets.fmt(customer["nps"]), help=f"{customer['scored']} ocen klientów"
)
cols[0].caption(_ci(customer["ci95"]))
cols[1].metric(
    "NPS przewidywany",
    widgets.fmt(employee["predicted_nps"]),
    help="NPS ocen, które według pracowników dają klienci: % 9–10 − % 0–6",
)
cols[1].caption(_ci(employee["ci95"]))
cols[2].metric(
    "Różnica",
    widgets.fmt(nps_gap["difference"]),
    help="przewidywany − rzeczywisty, w punktach NPS (test z dla dwóch NPS)",
)
cols[2].caption(
    "istotna (p < 0,05)"
    if nps_gap["significant"]
    else f"nieistotna (p = {widgets.fmt(nps_gap['p_value'], 3)})"
    if nps_gap["p_value"] is not None
    else "nie da się porównać"
)
cols[3].metric(
    "Pracownicy",
    employee["responses"],
    help=f"średnia przewidywana ocena: {widgets.fmt(employee['predicted_score_mean'], 2)}",
)
cols[3].caption(f"średnia przewidywana ocena: {widgets.fmt(employee['predicted_score_mean'], 2)}")


def _score_rows(entries: list[dict], key: str) -> pd.DataFrame:
    """One row per store / wave: customers' and employees' figures side by side."""
    rows = []
    for e in entries:
        c, p, g = e["customer"], e["employee"], e["nps_gap"]
        rows.append(
            {
                key: e[key],
                "customer_scored": c["scored"],
                "customer_nps": c["nps"],
                "employee_predicted": p["predicted"],
                "predicted_nps": p["predicted_nps"],
                "predicted_score_mean": p["predicted_score_mean"],
                "difference": g["difference"],
                "p_value": g["p_value"],
            }
        )
    return pd.DataFrame(rows)


def _chart_rows(entries: list[dict], key: str) -> pd.DataFrame:
    rows = []
    for e in entries:
        for who, side, n, value in (
            ("klienci", e["customer"], e["customer"]["scored"], e["customer"]["nps"]),
            (
                "pracownicy",
                e["employee"],
                e["employee"]["predicted"],
                e["employee"]["predicted_nps"],
            ),
        ):
            ci = side["ci95"] or [None, None]
            rows.append(
                {
                    "store": e[key],
                    "who": who,
                    "n": n,
                    "nps": value,
                    "ci_low": ci[0],
                    "ci_high": ci[1],
                }
            )
    return pd.DataFrame(rows)


st.subheader("NPS przewidywany a rzeczywisty: sklepy")
overall = {"store": "wszystkie", **result}
entries = [overall, *result["stores"]]
st.altair_chart(charts.predicted_actual(_chart_rows(entries, "store")), use_container_width=True)
stores = _score_rows(result["stores"], "store")
stores["store"] = stores["store"].replace({"none": "(bez punktu styku)"})
widgets.table(stores)


def _driver_frame(entries: list[dict]) -> pd.DataFrame:
    columns = [
        "label",
        "customer_share",
        "employee_share",
        "gap",
        "customer_mentions",
        "employee_mentions",
        "p_value",
        "test",
        "significant",
        "driver",
    ]
    frame = pd.DataFrame(entries, columns=columns)
    for column in ("customer_share", "employee_share", "gap"):
        frame[column] = pd.to_numeric(frame[column]) * 100
    return frame


t = result["thresholds"]
st.subheader("Czynniki: co mówią klienci, a czego spodziewają się pracownicy")
st.caption(
    f"Udział odpowiedzi, które wymieniają czynnik, wśród odpowiedzi z co najmniej jednym "
    f"czynnikiem (klienci z oceną: {result['customer_driver_base']}, pracownicy: "
    f"{result['employee_driver_base']}). Luka = klienci − pracownicy, w punktach procentowych; "
    "uszeregowane od największej. Wartość p: test z dla dwóch proporcji, a gdy któraś "
    "oczekiwana liczność jest mniejsza niż 5, dokładny test Fishera."
)
drivers = _driver_frame(result["drivers"])
if drivers.empty:
    st.info("Ani klienci, ani pracownicy nie wskazali jeszcze żadnego czynnika.")
else:
    widgets.table(drivers)
    st.altair_chart(charts.driver_gap(drivers), use_container_width=True)

left, right = st.columns(2)
with left:
    st.subheader("Martwe pola")
    st.caption(
        f"Klienci wymieniają czynnik w co najmniej {t['min_share'] * 100:.0f}% odpowiedzi, "
        f"pracownicy rzadziej niż w połowie tak często. Istotność podaje kolumna obok."
    )
    spots = _driver_frame(result["blind_spots"])
    if spots.empty:
        st.info("Brak martwych pól.")
    else:
        widgets.table(
            spots, ["label", "customer_share", "employee_share", "p_value", "significant"]
        )
with right:
    st.subheader("Mity")
    st.caption(
        f"Pracownicy spodziewają się czynnika w co najmniej {t['min_share'] * 100:.0f}% "
        "odpowiedzi, klienci wymieniają go rzadziej niż w połowie tak często."
    )
    myths = _driver_frame(result["myths"])
    if myths.empty:
        st.info("Brak mitów.")
    else:
        widgets.table(
            myths, ["label", "customer_share", "employee_share", "p_value", "significant"]
        )

st.subheader("Fale badania")
waves = result["waves"]
if not waves:
    st.info("Odpowiedzi pracowników nie mają jeszcze fali badania.")
    st.stop()
st.caption(
    "Fala pracowników (np. 2026-11) porównana z klientami, którzy rozmawiali z botem w tym "
    "samym okresie (miesiąc RRRR-MM, kwartał RRRR-Qn albo rok RRRR)."
)
widgets.table(_score_rows(waves, "wave"))
labels = [w["wave"] for w in waves]
picked = st.selectbox("Fala", labels, index=len(labels) - 1, key="gap_wave")
wave = next(w for w in waves if w["wave"] == picked)
if not wave["matched"]:
    st.caption(
        "Ta etykieta fali nie jest okresem (RRRR-MM, RRRR-Qn, RRRR): brak klientów do porównania."
    )
wave_drivers = _driver_frame(wave["drivers"])
if not wave_drivers.empty:
    widgets.table(wave_drivers)
cols = st.columns(2)
with cols[0]:
    st.caption("Martwe pola tej fali")
    shown = _driver_frame(wave["blind_spots"])
    if shown.empty:
        st.caption("brak")
    else:
        widgets.table(
            shown, ["label", "customer_share", "employee_share", "p_value", "significant"]
        )
with cols[1]:
    st.caption("Mity tej fali")
    shown = _driver_frame(wave["myths"])
    if shown.empty:
        st.caption("brak")
    else:
        widgets.table(
            shown, ["label", "customer_share", "employee_share", "p_value", "significant"]
        )
