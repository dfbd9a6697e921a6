"""Training the bot: answers since the model was trained, the share not
understood, whether it is time to retrain (analytics.retrain), the inbox's
most frequent lines (masked, analytics.inbox) and the commands to run.
Analysts only."""

import datetime as dt

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from analytics import inbox, retrain
from analytics.dashboard import data, login, widgets
from analytics.db import AnalyticsError, tracker_engine
from nps.db_error import describe

TOP_LINES = 15
TTL_SECONDS = 60
WHY_LABELS = {
    inbox.FALLBACK: "nie zrozumiał",
    inbox.LOW_CONFIDENCE: "niepewny",
    inbox.WHY_NO_DRIVER: "„dlaczego” bez czynnika",
    inbox.CLARIFICATION: "dopytywał",
}
ROLE_LABELS = {inbox.CUSTOMER: "klienci", inbox.EMPLOYEE: "pracownicy"}


@st.cache_data(ttl=TTL_SECONDS, show_spinner="Liczę odpowiedzi od treningu…")
def _since(db_url: str, model_path: str, model_mtime: float | None):
    s = data.settings()
    when = retrain.trained_at(model_path)
    engine = tracker_engine(db_url)
    try:
        since = retrain.since_training(engine, s, when)
    finally:
        engine.dispose()
    lines = inbox.group(since.messages)[:TOP_LINES]
    top = pd.DataFrame(
        {
            "count": [ln.count for ln in lines],
            "text": [ln.text for ln in lines],
            "powód": [", ".join(WHY_LABELS[r] for r in inbox.REASONS if ln.why[r]) for ln in lines],
            "who": [", ".join(ROLE_LABELS[r] for r in ROLE_LABELS if ln.roles[r]) for ln in lines],
        }
    )
    return when, since.answers, since.not_understood, top


st.title("Trening bota")
if not login.require_user().analyst:
    st.warning("Ta strona jest tylko dla analityków.")
    st.stop()
s = data.settings()
model = s.model_path
mtime = model.stat().st_mtime if model.exists() else None
try:
    when, answers, not_understood, top = _since(s.db_url, str(model), mtime)
except (AnalyticsError, sa.exc.SQLAlchemyError) as exc:
    message = str(exc) if isinstance(exc, AnalyticsError) else describe(exc)
    st.warning(f"Nie mogę odczytać danych: {message}")
    st.stop()

if when is None:
    st.info(
        f"Nie ma jeszcze wytrenowanego modelu ({model}): liczę wszystkie odpowiedzi. "
        "Trening: make train."
    )
    since_label = "od początku"
else:
    since_label = "od treningu " + when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
if answers == 0:
    st.info(f"Nie ma jeszcze odpowiedzi {since_label}: nic do przejrzenia.")
advice = retrain.advice(answers, not_understood, retrain.Thresholds.of(s))
c = st.columns(3)
c[0].metric("Odpowiedzi " + since_label, answers)
c[1].metric("Niezrozumiane", not_understood)
c[2].metric(
    "Udział niezrozumianych",
    widgets.fmt(None if advice.share is None else 100 * advice.share, 1, " %"),
)
(st.warning if advice.retrain else st.success)(advice.message)
st.caption(
    f"Progi: {s.retrain_answers} odpowiedzi (NPS_RETRAIN_ANSWERS) albo "
    f"{s.retrain_not_understood:.0%} niezrozumianych (NPS_RETRAIN_NOT_UNDERSTOOD). "
    "Odpowiedź to wiadomość klienta lub pracownika na pytanie ankiety."
)

st.subheader("Skrzynka trenera: najczęstsze niezrozumiane wiadomości")
if top.empty:
    st.info("Bot zrozumiał wszystkie odpowiedzi od ostatniego treningu.")
else:
    widgets.table(top)
    st.caption("Adresy e-mail, numery telefonów i długie numery są ukryte.")

st.subheader("Co zrobić")
st.code(
    "make inbox      # niezrozumiane wiadomości do data/inbox/<data>.yml\n"
    "# popraw etykiety i przenieś gotowe linie do data/nlu\n"
    "make validate   # duplikaty i sprzeczne etykiety\n"
    "make train\n"
    "make eval       # F1 czynników przed i po",
    language="bash",
)
