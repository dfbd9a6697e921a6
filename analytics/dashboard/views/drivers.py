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
st.dataframe(
    table.assign(share=table["share"] * 100),
    hide_index=True,
    column_config={
        "driver": "id",
        "label": "czynnik",
        "mentions": "wspomina",
        "positive": "pozytywnie",
        "negative": "negatywnie",
        "share": st.column_config.NumberColumn("udział %", format="%.1f"),
        "nps_mentioners": st.column_config.NumberColumn("NPS wspominających", format="%.1f"),
        "impact": st.column_config.NumberColumn("wpływ", format="%+.1f"),
    },
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
    quotes["kiedy"] = widgets.when(quotes["started_at"])
    st.dataframe(
        quotes[
            [
                "kiedy",
                "nps_score",
                "polarity",
                "reason",
                "why_chain",
                "improvement",
                "valued_most",
                "channel",
                "touchpoint",
            ]
        ],
        hide_index=True,
        column_config={
            "nps_score": "ocena",
            "polarity": "wydźwięk",
            "reason": "uzasadnienie",
            "why_chain": "dlaczego…",
            "improvement": "co zmienić",
            "valued_most": "co ceni",
        },
    )
