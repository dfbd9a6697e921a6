"""Loading for the dashboard: engines are cached resources, data is cached
for a short time. The views reach the databases only through this module,
which goes through Projection and tracker_source (no SQL of its own)."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from analytics import tracker_source
from analytics.dataset import Dataset, load_dataset
from analytics.db import AnalyticsError, tracker_engine, writable_engine
from analytics.drivers import Catalogue, comments_of, load_catalogue
from analytics.projection import Projection
from analytics.settings import Settings, load_settings
from nps.db_error import describe
from nps.settings import SettingError

DATA_TTL_SECONDS = 30


def settings() -> Settings:
    """The settings; a bad value stops the page with its one-line message."""
    try:
        return load_settings()
    except SettingError as exc:
        st.error(f"Błędne ustawienie: {exc}")
        st.stop()


@st.cache_resource(show_spinner=False)
def _engines(db_url: str, analytics_url: str, schema: str):
    return tracker_engine(db_url), Projection(writable_engine(analytics_url), schema)


@st.cache_data(ttl=DATA_TTL_SECONDS, show_spinner="Wczytuję rozmowy…")
def _dataset(db_url: str, analytics_url: str, schema: str) -> Dataset:
    tracker, projection = _engines(db_url, analytics_url, schema)
    projection.update(tracker)
    return load_dataset(projection)


def _message(exc: Exception) -> str:
    if isinstance(exc, AnalyticsError):
        return str(exc)
    return "błąd bazy danych: " + describe(exc)


def dataset() -> tuple[Dataset | None, str | None]:
    """(data, None) or (None, a message for the user)."""
    s = settings()
    try:
        return _dataset(s.db_url, s.analytics_db_url, s.analytics_schema), None
    except (AnalyticsError, sa.exc.SQLAlchemyError) as exc:
        return None, _message(exc)


@st.cache_data(ttl=60, show_spinner=False)
def _catalogue(drivers_file: str, known_issues_file: str) -> Catalogue:
    from pathlib import Path

    return load_catalogue(Path(drivers_file), Path(known_issues_file))


def catalogue() -> Catalogue:
    s = settings()
    return _catalogue(str(s.drivers_file), str(s.known_issues_file))


@st.cache_resource(show_spinner="Wczytuję polskie słowniki lematów…")
def _lemmatizer():
    from analytics.topics import PolishLemmatizer

    return PolishLemmatizer()


@st.cache_data(ttl=600, show_spinner="Szukam tematów…")
def _topic_documents(version: str, db_url: str, _ds: Dataset) -> pd.DataFrame:
    # Keyed by the projection version and store: lemmatising every comment
    # again on each filter change would be slow.
    from analytics import topics

    caught = set(_ds.mentions["response_id"])
    return topics.documents(comments_of(_ds), caught, _lemmatizer())


def topic_documents(full: Dataset) -> pd.DataFrame:
    return _topic_documents(full.version, settings().db_url, full)


def live_snapshot(limit: int = 20) -> tuple[pd.DataFrame | None, list, str | None]:
    """Newest surveys and messages, fresh (no cache): the projection is
    updated first, which is cheap when little is new."""
    s = settings()
    try:
        tracker, projection = _engines(s.db_url, s.analytics_db_url, s.analytics_schema)
        projection.update(tracker)
        recent = projection.latest_responses(limit)
        messages = tracker_source.latest_messages(tracker, limit=limit)
    except (AnalyticsError, sa.exc.SQLAlchemyError) as exc:
        return None, [], _message(exc)
    # The projection stores pseudonyms already; the tracker store's messages
    # get the same one, so a row and its messages show the same "klient".
    recent.insert(0, "klient", recent.pop("person"))
    for m in messages:
        m["klient"] = projection.person(m.pop("sender_id"))
    return recent, messages, None
