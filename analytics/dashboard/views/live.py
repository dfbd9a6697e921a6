"""Live: the newest conversations turning into data, refreshed automatically."""

import pandas as pd
import streamlit as st

from analytics.dashboard import data, login, widgets
from analytics.dashboard.auth import scope_live

LIMIT = 20

st.title("Na żywo")
s = data.settings()
user = login.require_user()
auto = st.toggle(f"Odświeżaj co {s.live_refresh_seconds} s", value=True, key="live_auto")


@st.fragment(run_every=s.live_refresh_seconds if auto else None)
def newest():
    # A store manager's newest surveys are looked for among more of everyone's.
    recent, messages, error = data.live_snapshot(LIMIT if user.analyst else 10 * LIMIT)
    if error:
        st.warning(f"Nie mogę odczytać danych: {error}")
        return
    recent, messages = scope_live(recent, messages, user)
    recent = recent.head(LIMIT) if recent is not None else None
    messages = messages[:LIMIT]
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
