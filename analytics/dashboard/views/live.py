"""Live: the newest conversations turning into data, refreshed automatically."""

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
        recent["kiedy"] = widgets.when(recent["last_event_at"])
        st.dataframe(
            recent[
                [
                    "kiedy",
                    "klient",
                    "channel",
                    "touchpoint",
                    "nps_score",
                    "nps_group",
                    "reason",
                    "survey_outcome",
                ]
            ],
            hide_index=True,
            column_config={
                "channel": "kanał",
                "touchpoint": "punkt styku",
                "nps_score": "ocena",
                "nps_group": "grupa",
                "reason": "uzasadnienie",
                "survey_outcome": "wynik",
            },
        )
    if messages:
        st.subheader("Ostatnie wiadomości")
        table = [
            {"kiedy": m["timestamp"], "klient": m["klient"], "kto": m["who"], "tekst": m["text"]}
            for m in messages
        ]
        import pandas as pd

        frame = pd.DataFrame(table)
        frame["kiedy"] = widgets.when(frame["kiedy"])
        st.dataframe(frame, hide_index=True)


newest()
