"""Root causes: the why-chains, grouped by the driver they probe."""

import pandas as pd
import streamlit as st

from analytics.dashboard import data, widgets
from analytics.drivers import GENERIC, root_cause_summary, root_causes

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
# A chain that probed no driver (the bot asked generic whys) is filed under
# GENERIC; a missing driver means the same and must not vanish in a groupby.
causes = causes.assign(driver=causes["driver"].map(lambda d: GENERIC if pd.isna(d) else d))
summary = root_cause_summary(causes)
summary.insert(0, "label", [catalogue.label(d) for d in summary["driver"]])
st.caption(
    "Łańcuchy odpowiedzi na „dlaczego”, pogrupowane według głównego negatywnego czynnika "
    "rozmówcy; „ogólne”, gdy nie wskazał żadnego problemu i bot pytał ogólnie."
)
shown = summary.assign(driver=summary["driver"].replace({GENERIC: ""}))  # not an id
widgets.table(shown, ["label", "chains", "mean_depth", "driver"])

driver = st.selectbox(
    "Czynnik", summary["driver"].tolist(), format_func=catalogue.label, key="root_pick"
)
chains = causes[causes["driver"] == driver]
widgets.table(chains, ["nps_score", "depth", "chain", "reason"])  # the chain is the point
