"""Root causes: the why-chains, grouped by the driver they probe, and how
deep they went and why they ended."""

import pandas as pd
import streamlit as st

from analytics import why_chains
from analytics.dashboard import data, widgets
from analytics.drivers import GENERIC, root_cause_summary, root_causes

st.title("Przyczyny źródłowe (5 x dlaczego)")
ds, error = data.dataset()
widgets.stop_without_data(ds, error)
part, _ = widgets.filtered(ds)
widgets.stop_if_empty(part)
catalogue = data.catalogue()

causes = root_causes(part)
ended = why_chains.chains(part.responses)
if causes.empty and ended.empty:
    st.info("Nikt jeszcze nie odpowiedział na pytania „dlaczego” w wybranych odpowiedziach.")
    st.stop()
# A chain that probed no driver (the bot asked generic whys) is filed under
# GENERIC; a missing driver means the same and must not vanish in a groupby.
causes = causes.assign(driver=causes["driver"].map(lambda d: GENERIC if pd.isna(d) else d))
stops = list(why_chains.STOP_COLUMNS)
if ended.empty:
    # Only conversations from before the bot recorded how a chain ended.
    summary = root_cause_summary(causes)
    columns = ["label", "chains", "mean_depth", "driver"]
else:
    summary = why_chains.summary_by(ended, "driver")
    summary["reached_share"] = summary["reached_share"] * 100
    columns = ["label", "chains", "mean_depth", "reached_share", *stops, "driver"]
summary.insert(0, "label", [catalogue.label(d) for d in summary["driver"]])
st.caption(
    "Łańcuchy odpowiedzi na „dlaczego”, pogrupowane według czynnika, o który bot pytał "
    "ostatnio; „ogólne”, gdy rozmówca nie wskazał żadnego problemu i bot pytał ogólnie. "
    "Głębokość: ile odpowiedzi zapisano; „dotarły do przyczyny”: ostatnia odpowiedź była "
    "konkretna albo pasowała do znanego problemu."
)
shown = summary.assign(driver=summary["driver"].replace({GENERIC: ""}))  # not an id
widgets.table(shown, columns)

if not ended.empty:
    st.subheader("Według grupy NPS")
    by_group = why_chains.summary_by(ended, "nps_group")
    by_group["reached_share"] = by_group["reached_share"] * 100
    widgets.table(by_group, ["nps_group", "chains", "mean_depth", "reached_share", *stops])
    older = len(causes) - int(causes["response_id"].isin(ended["response_id"]).sum())
    if older:
        st.caption(
            f"{older} łańcuchów z rozmów sprzed zapisu głębokości i powodu zakończenia "
            "nie liczy się w tabelach powyżej; ich odpowiedzi są poniżej."
        )

st.subheader("Odpowiedzi")
# Drivers of the tables first, then those with only older chains.
options = list(dict.fromkeys([*summary["driver"], *sorted(causes["driver"].unique())]))
driver = st.selectbox("Czynnik", options, format_func=catalogue.label, key="root_pick")
chains = causes[causes["driver"] == driver]
if chains.empty:
    st.info("Łańcuchy tego czynnika skończyły się przed pierwszą zapisaną odpowiedzią.")
else:
    widgets.table(chains, ["nps_score", "depth", "stop", "chain", "reason"])
