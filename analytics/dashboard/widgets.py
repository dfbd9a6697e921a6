"""Widgets shared by the pages: filters, empty states, number formats.
Customer text is never passed to markdown: tables and st.text escape it."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from analytics.dataset import NO_TOUCHPOINT, Dataset, Filters, filter_dataset

FILTERS_KEY = "nps_filters"
CHANNEL_LABELS = {
    "rest": "REST / web",
    "socketio": "czat na stronie",
    "facebook": "Messenger",
    "whatsapp": "WhatsApp",
    "twilio": "SMS (Twilio)",
}
GROUP_LABELS = {"promoter": "Promotorzy", "passive": "Neutralni", "detractor": "Krytycy"}


def fmt(value, digits: int = 1, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return f"{value:.{digits}f}{suffix}"


def _utc_day(ts: float) -> dt.date:
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).date()


def sidebar_filters(ds: Dataset) -> Filters:
    """Dates, channels and touchpoints in the sidebar; remembered in the
    session so every page filters the same way."""
    r = ds.responses
    with st.sidebar:
        st.subheader("Filtry")
        if r.empty:
            st.caption("Brak danych do filtrowania.")
            f = Filters()
        else:
            first, last = _utc_day(r["started_at"].min()), _utc_day(r["started_at"].max())
            picked = st.date_input(
                "Okres (UTC)", value=(first, last), min_value=first, max_value=last, key="f_dates"
            )
            since, until = (
                picked
                if isinstance(picked, (tuple, list)) and len(picked) == 2
                else (picked[0], picked[0])
                if isinstance(picked, (tuple, list)) and picked
                else (first, last)
            )
            channels = sorted(c for c in r["channel"].dropna().unique())
            chosen = st.multiselect(
                "Kanał",
                channels,
                format_func=lambda c: CHANNEL_LABELS.get(c, c),
                key="f_channels",
                placeholder="wszystkie",
            )
            touchpoints = sorted(t for t in r["touchpoint"].dropna().unique())
            if r["touchpoint"].isna().any():
                touchpoints.append(NO_TOUCHPOINT)
            tps = st.multiselect(
                "Punkt styku",
                touchpoints,
                format_func=lambda t: "(bez punktu styku)" if t == NO_TOUCHPOINT else t,
                key="f_touchpoints",
                placeholder="wszystkie",
            )
            f = Filters(
                since=since if since != first else None,
                until=until if until != last else None,
                channels=tuple(chosen),
                touchpoints=tuple(tps),
            )
    st.session_state[FILTERS_KEY] = f
    return f


ENTRYPOINT_KEY = "nps_entrypoint"


def filtered(ds: Dataset) -> tuple[Dataset, Filters]:
    """The page's data under the sidebar filters. app.py draws the filters
    (widgets of the entrypoint keep their state across pages); a page run on
    its own (tests) draws them itself."""
    f = st.session_state.get(FILTERS_KEY) if st.session_state.get(ENTRYPOINT_KEY) else None
    if not isinstance(f, Filters):
        f = sidebar_filters(ds)
    return filter_dataset(ds, f), f


def stop_without_data(ds: Dataset | None, error: str | None) -> None:
    """A clear message instead of a page when there is nothing to show."""
    if error:
        st.warning(f"Nie mogę odczytać danych: {error}")
        st.caption(
            "Uruchom bota (make run) albo wygeneruj dane demonstracyjne (make demo-data); "
            "adres bazy podaje zmienna NPS_DB_URL."
        )
        st.stop()
    if ds is None or ds.empty:
        st.info(
            "Nie ma jeszcze żadnych odpowiedzi w bazie rozmów. Porozmawiaj z botem "
            "(strona „Wypróbuj bota”) albo wygeneruj dane demonstracyjne: make demo-data."
        )
        st.stop()


def stop_if_empty(part: Dataset) -> None:
    if part.empty:
        st.info("Brak odpowiedzi dla wybranych filtrów. Zmień okres, kanał albo punkt styku.")
        st.stop()


def when(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, unit="s", utc=True).dt.tz_localize(None)
