"""Known issues: fixes offered during the conversation, and did they help."""

import streamlit as st

from analytics.dashboard import charts, data, widgets
from analytics.drivers import known_issue_summary

st.title("Znane problemy")
ds, error = data.dataset()
widgets.stop_without_data(ds, error)
part, _ = widgets.filtered(ds)
widgets.stop_if_empty(part)
catalogue = data.catalogue()

summary = known_issue_summary(part)
if summary.empty:
    st.info(
        "W wybranych odpowiedziach bot nie zaproponował jeszcze żadnego rozwiązania znanego problemu."
    )
else:
    summary.insert(0, "title", [catalogue.issue_title(i) for i in summary["known_issue"]])
    offered, resolved = int(summary["offered"].sum()), int(summary["resolved"].sum())
    c = st.columns(3)
    c[0].metric("Zaproponowano", offered)
    c[1].metric("Pomogło", resolved, help="klient potwierdził, że rozwiązanie pomogło")
    c[2].metric("Ocenili ponownie", int(summary["rerated"].sum()))
    st.caption(
        "Przed / po: tylko osoby, które po rozwiązaniu oceniły nas ponownie, więc obie liczby "
        "dotyczą tych samych ludzi. Do NPS zawsze liczy się pierwsza ocena."
    )
    widgets.table(summary[[c for c in summary.columns if c != "known_issue"] + ["known_issue"]])
    if summary["mean_after"].notna().any():
        st.altair_chart(charts.before_after(summary), use_container_width=True)

never = sorted(set(catalogue.issues) - set(summary["known_issue"] if not summary.empty else []))
if never:
    st.caption("Nie zaproponowano jeszcze: " + ", ".join(catalogue.issue_title(i) for i in never))
