"""Widgets shared by the pages: filters, empty states, number formats, and
what the signed-in user may see. Customer text is never passed to markdown:
tables and st.text escape it, and `neutralise` keeps it from running as a
formula in a spreadsheet after a download."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from analytics.dashboard import login
from analytics.dashboard.auth import scope
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
# How a why-chain ended (nps.why_stops), in words.
STOP_LABELS = {
    "specific": "konkretna odpowiedź",
    "known_issue": "znany problem",
    "done": "klient zakończył",
    "limit": "limit pytań",
    "vague_limit": "odpowiedzi bez treści",
}

# What the dashboard calls the data's columns. The data, the CSV and the CLI's
# JSON keep their English names; every table (`table`) and chart (charts.py)
# translates here, at display, and nowhere else.
HEADERS = {
    # NPS
    "nps": "NPS",
    "n": "liczba ocen",
    "promoters": "promotorzy",
    "passives": "neutralni",
    "detractors": "krytycy",
    "ci_low": "95%: od",
    "ci_high": "95%: do",
    "period": "okres",
    "change": "zmiana",
    "p_value": "wartość p",
    "group": "grupa",
    "count": "liczba",
    "stage": "etap",
    # a response
    "when": "kiedy",
    "klient": "klient",  # data.live_snapshot names the pseudonym column in Polish already
    "channel": "kanał",
    "touchpoint": "punkt styku",
    "nps_score": "ocena",
    "nps_group": "grupa NPS",
    "reason": "uzasadnienie",
    "why_chain": "dlaczego…",
    "improvement": "co zmienić",
    "valued_most": "co ceni",
    "survey_outcome": "wynik ankiety",
    "who": "kto",
    "text": "tekst",
    # drivers
    "driver": "id czynnika",
    "label": "czynnik",
    "mentions": "wspomina",
    "share": "udział %",
    "positive": "pozytywnie",
    "negative": "negatywnie",
    "polarity": "wydźwięk",
    "nps_mentioners": "NPS wspominających",
    "impact": "wpływ na NPS (pkt)",
    # root causes
    "chains": "łańcuchy",
    "mean_depth": "średnia głębokość",
    "depth": "głębokość",
    "chain": "dlaczego → dlaczego → …",
    "stop": "jak się skończył",
    "reached_cause": "dotarły do przyczyny",
    "reached_share": "dotarły do przyczyny %",
    # how why-chains end: one column per nps.why_stops value
    **{f"stop_{stop}": label for stop, label in STOP_LABELS.items()},
    # known issues
    "known_issue": "id problemu",
    "title": "problem",
    "offered": "zaproponowano",
    "resolved": "pomogło",
    "not_resolved": "nie pomogło",
    "no_answer": "bez odpowiedzi",
    "rerated": "ocenili ponownie",
    "mean_before": "średnia przed",
    "mean_after": "średnia po",
    "mean_score": "średnia ocena",
    "nps_before": "NPS przed",
    "nps_after": "NPS po",
    # emerging topics
    "term": "termin (lemat)",
    "docs_group": "w grupie",
    "docs_rest": "u reszty",
    "share_group": "udział w grupie",
    "share_rest": "udział u reszty",
    "lift": "krotność",
    "z": "statystyka z",
    "uncaught_docs": "bez czynnika",
    # the perception gap (analytics.gap)
    "store": "sklep / zespół",
    "wave": "fala badania",
    "customer_scored": "oceny klientów",
    "customer_nps": "NPS klientów",
    "employee_responses": "odpowiedzi pracowników",
    "employee_predicted": "prognozy pracowników",
    "predicted_nps": "NPS przewidywany",
    "predicted_score_mean": "średnia przewidywana ocena",
    "difference": "różnica (przewidywany − rzeczywisty)",
    "customer_share": "klienci %",
    "employee_share": "pracownicy %",
    "customer_mentions": "klienci (liczba)",
    "employee_mentions": "pracownicy (liczba)",
    "gap": "luka (pkt %)",
    "test": "test",
    "significant": "istotna (p < 0,05)",
}
# printf formats of the numeric columns, by the same English names.
FORMATS = {
    "nps": "%.1f",
    "ci_low": "%.1f",
    "ci_high": "%.1f",
    "change": "%+.1f",
    "p_value": "%.4f",
    "share": "%.1f",
    "nps_mentioners": "%.1f",
    "impact": "%+.1f",
    "mean_depth": "%.2f",
    "reached_share": "%.1f",
    "mean_before": "%.1f",
    "mean_after": "%.1f",
    "nps_before": "%.1f",
    "nps_after": "%.1f",
    "share_group": "%.3f",
    "share_rest": "%.3f",
    "lift": "%.1f",
    "z": "%.2f",
    "customer_nps": "%.1f",
    "predicted_nps": "%.1f",
    "predicted_score_mean": "%.2f",
    "difference": "%+.1f",
    "customer_share": "%.1f",
    "employee_share": "%.1f",
    "gap": "%+.1f",
}
# Coded values shown in words.
VALUES = {
    "channel": CHANNEL_LABELS,
    "nps_group": {
        **{g: label.lower() for g, label in GROUP_LABELS.items()},
        "no_score": "bez oceny",  # analytics.why_chains.NO_SCORE
    },
    "polarity": {"pos": "pozytywny", "neg": "negatywny", "neg/pos": "mieszany"},
    "survey_outcome": {"finished": "ukończona", "stopped": "przerwana"},
    # nps.why_stops values, as the stop_* headers say them
    "stop": STOP_LABELS,
    # analytics.gap: which test gave the p-value
    "test": {"z": "z (dwie proporcje)", "fisher": "dokładny Fishera"},
    "significant": {True: "tak", False: "nie"},
}


def header(column: str) -> str:
    return HEADERS.get(column, column)


# A cell starting with one of these is run as a formula by Excel, LibreOffice
# or Google Sheets when a downloaded table is opened (=HYPERLINK(...) sends
# the neighbouring cells away); tab and carriage return hide such a start.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells that a spreadsheet would read as a
    formula start with an apostrophe, which makes them plain text. Every
    table the dashboard shows (and so every CSV downloaded from it) goes
    through here; numbers are left alone."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v
            )
    return out


def dataframe(frame: pd.DataFrame, **kwargs):
    """st.dataframe of a neutralised frame: the only way a page shows a table."""
    return st.dataframe(neutralise(frame), **kwargs)


def table(frame: pd.DataFrame, columns: list[str] | None = None, **kwargs):
    """st.dataframe of `columns` (default all) under Polish headers, coded
    values in words and numbers formatted, formulas neutralised; `frame`
    itself is left as it is."""
    shown = (frame[columns] if columns is not None else frame).copy()
    for column, words in VALUES.items():
        if column in shown.columns:
            shown[column] = shown[column].map(lambda v, w=words: w.get(v, v))
    for column in shown.columns:
        # Missing text as an empty cell, not as "None".
        values = shown[column].dropna()
        if shown[column].dtype == object and values.map(lambda v: isinstance(v, str)).all():
            shown[column] = shown[column].fillna("")
    config = {
        header(c): st.column_config.NumberColumn(format=FORMATS[c])
        for c in shown.columns
        if c in FORMATS
    }
    return dataframe(shown.rename(columns=HEADERS), hide_index=True, column_config=config, **kwargs)


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


def scoped(ds: Dataset) -> Dataset:
    """What the signed-in user may see of `ds`: everything for an analyst,
    their touchpoints' responses for a store manager. Every page's data
    passes through here (or through `filtered`, which calls it)."""
    return scope(ds, login.require_user())


def filtered(ds: Dataset) -> tuple[Dataset, Filters]:
    """The page's data, scoped to the user, under the sidebar filters. app.py
    draws the filters (widgets of the entrypoint keep their state across
    pages); a page run on its own (tests) draws them itself."""
    ds = scoped(ds)
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
