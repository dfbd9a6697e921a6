"""Root causes: the why-chains, grouped by the driver they probe."""

import streamlit as st

from analytics.dashboard import data, widgets
from analytics.drivers import root_cause_summary, root_causes

st.title("Przyczyny źródłowe (5 x dlaczego)")
ds, error = data.dataset()
widgets.stop_without_data(ds, error)
part, _ = widgets.filtered(ds)
widgets.stop_if_empty(part)
catalogue = data.catalogue()

causes = root_causes(part)
if causes.empty:
    st.info("Nikt jeszcze nie odpowiedział na pytania „dlaczego” w wybranych odpowiedziach.")
    st.stop()
summary = root_cause_summary(causes)
summary.insert(1, "czynnik", [catalogue.label(d) for d in summary["driver"]])
st.caption(
    "Łańcuchy odpowiedzi na „dlaczego”, pogrupowane według głównego negatywnego czynnika rozmówcy."
)
st.dataframe(
    summary,
    hide_index=True,
    column_config={
        "driver": "id",
        "chains": "łańcuchy",
        "mean_depth": st.column_config.NumberColumn("średnia głębokość", format="%.1f"),
    },
)

driver = st.selectbox(
    "Czynnik", summary["driver"].tolist(), format_func=catalogue.label, key="root_pick"
)
chains = causes[causes["driver"] == driver]
st.dataframe(
    chains[["nps_score", "reason", "depth", "chain"]],
    hide_index=True,
    column_config={
        "nps_score": "ocena",
        "reason": "uzasadnienie",
        "depth": "głębokość",
        "chain": "dlaczego → dlaczego → …",
    },
)
