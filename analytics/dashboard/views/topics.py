"""Emerging topics: words over-represented among detractors or promoters,
above all where no driver caught the comment; suggestions for trainers."""

import streamlit as st

from analytics import topics
from analytics.dashboard import data, widgets

st.title("Nowe tematy")
ds, error = data.dataset()
widgets.stop_without_data(ds, error)
part, _ = widgets.filtered(ds)
widgets.stop_if_empty(part)

docs = data.topic_documents(ds)
docs = docs[docs["response_id"].isin(set(part.responses["response_id"]))]
if len(docs) < 2 * topics.MIN_DOCS:
    st.info("Za mało odpowiedzi z komentarzem, żeby szukać tematów.")
    st.stop()
uncaught = int((~docs["caught"]).sum())
st.caption(
    f"{len(docs)} odpowiedzi z oceną, w tym {uncaught} bez rozpoznanego czynnika. "
    f"Termin jest pokazany, gdy używa go co najmniej {topics.MIN_DOCS} osób z grupy i częściej niż "
    "reszta (test dwóch proporcji, z ≥ 1,96). To podpowiedzi dla trenerów: nowy czynnik albo "
    "przykłady, których model nie rozpoznaje."
)

group = st.radio(
    "Grupa",
    ["detractor", "promoter"],
    horizontal=True,
    key="topics_group",
    format_func=widgets.GROUP_LABELS.get,
)
st.subheader("W komentarzach, których żaden czynnik nie wychwycił")
loose = topics.suggestions(docs, group, only_uncaught=True)
if loose.empty:
    st.info("Brak wyraźnych tematów wśród komentarzy bez czynnika.")
else:
    widgets.table(loose.head(30))

st.subheader("We wszystkich komentarzach")
every = topics.suggestions(docs, group, only_uncaught=False)
if every.empty:
    st.info("Brak wyraźnych tematów.")
else:
    widgets.table(every.head(30))

terms = list(dict.fromkeys(loose["term"].tolist() + every["term"].tolist()))
if terms:
    term = st.selectbox("Przykłady dla terminu", terms, key="topics_term")
    for text in topics.examples(docs, term, group):
        st.text(text)
