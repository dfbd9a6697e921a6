"""Try the bot: a chat with the running bot over Rasa's REST channel, so a
trainer can test a dialogue. Analysts only. It talks as REST sender
try-<uuid> (conversation rest:try-<uuid>), which analytics never counts."""

import uuid

import streamlit as st

from analytics.dashboard import data, login
from analytics.dashboard.bot_client import BotError, send

# Test chats are left out of analytics by this prefix (nps identity: rest:try-...).
TEST_SENDER_PREFIX = "try-"


def new_sender() -> str:
    return TEST_SENDER_PREFIX + uuid.uuid4().hex


st.title("Wypróbuj bota")
if not login.require_user().analyst:
    st.warning("Ta strona jest tylko dla analityków.")
    st.stop()
s = data.settings()
if "bot_sender" not in st.session_state:
    st.session_state.bot_sender = new_sender()
    st.session_state.bot_history = []
st.caption(f"Bot: {s.bot_url} (NPS_BOT_URL). Rozmowy testowe nie są liczone w NPS.")


def talk(text: str) -> None:
    st.session_state.bot_history.append({"who": "user", "text": text})
    try:
        replies = send(s.bot_url, st.session_state.bot_sender, text, token=s.rest_token)
    except BotError as exc:
        st.session_state.bot_history.append({"who": "error", "text": str(exc)})
        return
    if not replies:
        st.session_state.bot_history.append({"who": "bot", "text": "(bot nic nie odpowiedział)"})
    st.session_state.bot_history.extend({"who": "bot", **r} for r in replies)


if st.button("Zacznij od nowa", key="bot_reset"):
    st.session_state.bot_sender = new_sender()
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
