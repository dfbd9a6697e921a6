"""Live: the newest conversations turning into data, refreshed automatically."""

import pandas as pd
import streamlit as st

from analytics.dashboard import data, widgets

st.title("Na żywo")
s = data.settings()
auto = st.toggle(f"Odświeżaj co {s.live_refresh_seconds} s", value=True, key="live_auto")


@st.fragment(run_every=s.live_refresh_seconds if auto else None)
def newest():
    recent, messages, error = data.live_snapshot()
    if error:
        st.warning(f"Nie mogę odczytać danych: {error}")
        return
    if recent is None or recent.empty:
        st.info("Nie ma jeszcze żadnych ankiet. Napisz do bota na stronie „Wypróbuj bota”.")
    else:
        st.subheader("Najnowsze ankiety")
        recent["when"] = widgets.when(recent["last_event_at"])
        widgets.table(
            recent,
            [
                "when",
                "klient",
                "channel",
                "touchpoint",
                "nps_score",
                "nps_group",
                "reason",
                "survey_outcome",
            ],
        )
    if messages:
        st.subheader("Ostatnie wiadomości")
        frame = pd.DataFrame(
            [
                {"when": m["timestamp"], "klient": m["klient"], "who": m["who"], "text": m["text"]}
                for m in messages
            ]
        )
        frame["when"] = widgets.when(frame["when"])
        widgets.table(frame)


newest()
