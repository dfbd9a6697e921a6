"""Drivers: who mentions what, how it moves NPS, and the words behind it."""

import streamlit as st

from analytics.dashboard import charts, data, widgets
from analytics.drivers import driver_report, verbatims

st.title("Czynniki (drivery)")
ds, error = data.dataset()
widgets.stop_without_data(ds, error)
part, _ = widgets.filtered(ds)
widgets.stop_if_empty(part)
catalogue = data.catalogue()
for problem in catalogue.problems:
    st.caption(problem)

table = driver_report(part, catalogue)
if table.empty:
    st.info("Brak katalogu czynników i żadnych wzmianek: nie ma czego pokazać.")
    st.stop()
st.caption(
    "Podstawa: odpowiedzi z oceną. Wpływ = NPS(wszyscy) − NPS(wszyscy bez wspominających): "
    "dodatni podnosi wynik, ujemny go obniża."
)
widgets.table(
    table.assign(share=table["share"] * 100),
    ["label", "mentions", "share", "positive", "negative", "nps_mentioners", "impact", "driver"],
)
if table["mentions"].sum() > 0:
    st.subheader("Udział a wpływ")
    st.altair_chart(charts.share_impact(table), use_container_width=True)

st.subheader("Wypowiedzi")
ids = table["driver"].tolist()
driver = st.selectbox("Czynnik", ids, format_func=catalogue.label, key="drivers_pick")
polarity = st.radio(
    "Wydźwięk",
    ["all", "neg", "pos"],
    horizontal=True,
    key="drivers_polarity",
    format_func={"all": "wszystkie", "neg": "negatywne", "pos": "pozytywne"}.get,
)
quotes = verbatims(part, driver, None if polarity == "all" else polarity)
if quotes.empty:
    st.info(f"Nikt nie wspomniał o czynniku „{catalogue.label(driver)}” w wybranych odpowiedziach.")
else:
    st.caption(f"{len(quotes)} odpowiedzi")
    quotes["when"] = widgets.when(quotes["started_at"])
    widgets.table(
        quotes,
        [
            "when",
            "nps_score",
            "polarity",
            "reason",
            "why_chain",
            "improvement",
            "valued_most",
            "channel",
            "touchpoint",
        ],
    )
