"""Root causes: the why-chains, grouped by the driver they probe."""

import pandas as pd
import streamlit as st

from analytics.dashboard import data, widgets
from analytics.drivers import root_cause_summary, root_causes

# The bot asks generic "why?" questions when the respondent named no negative
# driver; analytics files those chains without a driver (None) or under a
# marker of its own. Both are shown as one row under this label.
GENERIC = "–"  # shown in the id column: no driver
GENERIC_LABEL = "ogólne (bez wskazanego problemu)"
_GENERIC_MARKERS = {"", "generic", "(generic)", "brak", "(brak)", "none", "(none)"}

st.title("Przyczyny źródłowe (5 x dlaczego)")
ds, error = data.dataset()
widgets.stop_without_data(ds, error)
part, _ = widgets.filtered(ds)
widgets.stop_if_empty(part)
catalogue = data.catalogue()


def probed(driver) -> str:
    """The driver id a chain probes, or GENERIC when it probes none."""
    if driver is None or pd.isna(driver):
        return GENERIC
    text = str(driver)
    if text not in catalogue.labels and text.strip().lower() in _GENERIC_MARKERS:
        return GENERIC
    return text


def label(driver: str) -> str:
    return GENERIC_LABEL if driver == GENERIC else catalogue.label(driver)


causes = root_causes(part)
if causes.empty:
    st.info("Nikt jeszcze nie odpowiedział na pytania „dlaczego” w wybranych odpowiedziach.")
    st.stop()
causes = causes.assign(driver=causes["driver"].map(probed))
summary = root_cause_summary(causes)
summary.insert(0, "label", [label(d) for d in summary["driver"]])
st.caption(
    "Łańcuchy odpowiedzi na „dlaczego”, pogrupowane według głównego negatywnego czynnika "
    "rozmówcy; „ogólne”, gdy nie wskazał żadnego problemu i bot pytał ogólnie."
)
widgets.table(summary, ["label", "chains", "mean_depth", "driver"])

driver = st.selectbox("Czynnik", summary["driver"].tolist(), format_func=label, key="root_pick")
chains = causes[causes["driver"] == driver]
widgets.table(chains, ["nps_score", "depth", "chain", "reason"])  # the chain is the point
