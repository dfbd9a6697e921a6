"""Try the bot: a chat with the running bot over Rasa's REST channel, so a
trainer can test a dialogue and watch it appear in the data."""

import uuid

import streamlit as st

from analytics.dashboard import data
from analytics.dashboard.bot_client import BotError, send

st.title("Wypróbuj bota")
s = data.settings()
if "bot_sender" not in st.session_state:
    st.session_state.bot_sender = "dashboard-" + uuid.uuid4().hex[:12]
    st.session_state.bot_history = []
st.caption(
    f"Bot: {s.bot_url} (NPS_BOT_URL). Rozmowa trafia do danych jak każda inna, kanał „rest”."
)


def talk(text: str) -> None:
    st.session_state.bot_history.append({"who": "user", "text": text})
    try:
        replies = send(s.bot_url, st.session_state.bot_sender, text)
    except BotError as exc:
        st.session_state.bot_history.append({"who": "error", "text": str(exc)})
        return
    if not replies:
        st.session_state.bot_history.append({"who": "bot", "text": "(bot nic nie odpowiedział)"})
    st.session_state.bot_history.extend({"who": "bot", **r} for r in replies)


if st.button("Zacznij od nowa", key="bot_reset"):
    st.session_state.bot_sender = "dashboard-" + uuid.uuid4().hex[:12]
    st.session_state.bot_history = []

typed = st.chat_input("Napisz do bota…", key="bot_input")
if typed:
    talk(typed)

last_buttons = []
for _i, message in enumerate(st.session_state.bot_history):
    if message["who"] == "error":
        st.error(message["text"])
        continue
    with st.chat_message("user" if message["who"] == "user" else "assistant"):
        # st.text: customer and bot text shown as plain text, never as markdown or HTML.
        if message.get("text"):
            st.text(message["text"])
    if message["who"] == "user":
        last_buttons = []
    elif message.get("buttons"):
        last_buttons = message["buttons"]

if last_buttons:
    cols = st.columns(min(len(last_buttons), 11))
    for j, button in enumerate(last_buttons):
        if cols[j % len(cols)].button(
            str(button.get("title", "?")), key=f"bot_button_{len(st.session_state.bot_history)}_{j}"
        ):
            talk(str(button.get("payload") or button.get("title")))
            st.rerun()
