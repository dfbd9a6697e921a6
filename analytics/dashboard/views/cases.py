"""Cases (the closed loop): the queue, filtered by store, state, age and SLA,
and one case with its whole conversation, slots, drivers and why-chain, and
the actions: take it, move it on, close it with a root cause and a
resolution, note, acknowledge the alert, reply in the customer's chat.

Analysts see and change every case; a store manager only their stores'
(cases.board.may_see). What a case is and may become: cases/store.py,
cases/states.py; the rules that open cases: data/cases.yml."""

import datetime as dt
import time

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from analytics.dashboard import data, login, widgets
from analytics.db import AnalyticsError, tracker_engine
from cases import board, metrics, reply, sla, states, themes
from cases.rules import load_for
from cases.store import CaseNotFound, CaseStore, cases_engine
from nps.db_error import describe
from nps.drivers import load_catalogue

STATE_LABELS = {
    states.NEW: "nowa",
    states.ASSIGNED: "przypisana",
    states.CONTACTED: "kontakt nawiązany",
    states.IN_PROGRESS: "w toku",
    states.ON_HOLD: "wstrzymana",
    states.RESOLVED: "rozwiązana",
    states.UNRESOLVED: "nierozwiązana",
    states.REOPENED: "otwarta ponownie",
}
SLA_LABELS = {sla.OK: "w terminie", sla.AT_RISK: "zagrożona", sla.BREACHED: "po terminie"}
WHO_LABELS = {"customer": "Klient", "bot": "Bot", "agent": "Konsultant"}
REPLY_LABELS = {
    reply.SENT: "Wysłano do klienta.",
    reply.REFUSED_WINDOW: "Kanał nie pozwala teraz napisać",
    reply.NOT_CONNECTED: "Klient nie jest połączony z czatem",
    reply.ERROR: "Nie udało się wysłać",
}


@st.cache_resource(show_spinner=False)
def _engines(cases_url: str, tracker_url: str):
    return cases_engine(cases_url), tracker_engine(tracker_url)


@st.cache_resource(show_spinner=False)
def _trainers(data_dir: str):
    catalogue = load_catalogue(f"{data_dir}/drivers.yml")
    return catalogue, load_for(data_dir), sla.load(data_dir)


def _when(ts) -> str:
    if ts is None or pd.isna(ts):
        return "–"
    return dt.datetime.fromtimestamp(float(ts), dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


st.title("Sprawy")
user = login.require_user()
s = data.settings()
try:
    catalogue, ruleset, calendars = _trainers(str(s.data_dir))
    cases_db, tracker = _engines(s.cases_db_url, s.db_url)
    store = CaseStore(
        cases_db, root_causes=catalogue, resolutions=ruleset.resolutions, calendars=calendars
    )
    everything = store.list_cases()
except (AnalyticsError, sa.exc.SQLAlchemyError, ValueError) as exc:
    message = describe(exc) if isinstance(exc, sa.exc.SQLAlchemyError) else str(exc)
    st.warning(f"Nie mogę odczytać spraw: {message}")
    st.stop()

mine = board.visible(everything, user.analyst, user.touchpoints)
if not mine:
    st.info(
        "Nie ma jeszcze żadnych spraw. Otwierają je reguły z data/cases.yml "
        "(python -m analytics cases)."
    )
    st.stop()

now = time.time()
with st.expander("Filtry kolejki", expanded=True):
    c = st.columns(4)
    chosen_states = c[0].multiselect(
        "Stan", states.STATES, default=list(states.OPEN), format_func=STATE_LABELS.get
    )
    stores_all = sorted({x["store"] or "" for x in mine})
    chosen_stores = c[1].multiselect("Sklep", stores_all, default=stores_all)
    chosen_sla = c[2].multiselect("SLA", list(SLA_LABELS), format_func=SLA_LABELS.get)
    chosen_ages = c[3].multiselect("Wiek", [b[0] for b in board.AGE_BUCKETS])
rows = board.queue(
    [{**x, "store": x["store"] or ""} for x in mine],
    now,
    calendars,
    states_in=chosen_states,
    stores=chosen_stores,
    slas=chosen_sla or None,
    ages=chosen_ages or None,
)
st.subheader(f"Kolejka ({len(rows)})")
if rows:
    frame = pd.DataFrame(rows)
    frame["stan"] = frame["state"].map(STATE_LABELS)
    frame["sla"] = frame["sla"].map(lambda v: SLA_LABELS.get(v, "–"))
    frame["termin"] = frame["due"].map(_when)
    frame["otwarta"] = frame["opened_at"].map(_when)
    widgets.table(
        frame,
        ["id", "stan", "priority", "team", "owner", "store", "score", "sla", "termin", "age"],
    )
else:
    st.caption("Żadna sprawa nie spełnia filtrów.")

with st.expander("Wskaźniki pętli"):
    loop = metrics.loop_metrics(mine, now, lambda store: sla.calendar_for(store, calendars))
    k = st.columns(4)
    rate = loop["recovery"]["rate"]
    k[0].metric("Odzyskani klienci", widgets.fmt(None if rate is None else 100 * rate, 1, " %"))
    k[1].metric(
        "Do 1. kontaktu (mediana, h rob.)",
        widgets.fmt(loop["time_to_first_contact"]["median_hours"]),
    )
    k[2].metric(
        "Do zamknięcia (mediana, h rob.)", widgets.fmt(loop["time_to_close"]["median_hours"])
    )
    within = loop["within_sla"]["resolution"]
    k[3].metric(
        "W terminie (rozwiązanie)",
        widgets.fmt(None if within.get("share") is None else 100 * within["share"], 1, " %"),
    )
    st.caption(
        "Zaległe według wieku: " + ", ".join(f"{b}: {n}" for b, n in loop["backlog"].items())
    )
    causes = [
        {
            "przyczyna": catalogue[c["root_cause"]].label
            if c["root_cause"] in catalogue
            else c["root_cause"],
            "sprawy": c["cases"],
        }
        for c in loop["root_causes"]
    ]
    if causes:
        st.write("Przyczyny źródłowe")
        widgets.table(pd.DataFrame(causes))

    def _pct(value):
        return None if value is None else round(100 * value, 1)

    per_store = [
        {
            "sklep": name,
            "sprawy": m["cases"],
            "otwarte": m["open"],
            "odzyskani %": _pct(m["recovery"]["rate"]),
            "do 1. kontaktu h": m["time_to_first_contact"]["median_hours"],
            "do zamknięcia h": m["time_to_close"]["median_hours"],
            "w terminie %": _pct(m["within_sla"]["resolution"]["share"]),
        }
        for name, m in loop["per_store"].items()
    ]
    if per_store:
        st.write("Według sklepu (mediany w godzinach pracy)")
        widgets.table(pd.DataFrame(per_store))

THEME_LABELS = {themes.OPEN: "otwarty", themes.IN_PROGRESS: "w toku", themes.RESOLVED: "rozwiązany"}
if user.analyst:  # themes span stores: the outer loop is the analysts'
    with st.expander("Tematy (pętla zewnętrzna)"):
        themes.ensure_tables(cases_db)
        label = lambda d: catalogue[d].label if d in catalogue else d  # noqa: E731
        for hint in themes.suggest(mine, now=now, linked=themes.linked_case_ids(cases_db)):
            st.caption(
                f"Powraca: {label(hint.root_cause)}: {hint.count} spraw "
                f"({', '.join(f'{k}: {v}' for k, v in hint.stores.items())})"
            )
            if st.button(f"Utwórz temat: {label(hint.root_cause)}", key=f"t_{hint.root_cause}"):
                themes.create(
                    cases_db, label(hint.root_cause), hint.root_cause, user.name, hint.case_ids
                )
                st.rerun()
        for theme in themes.list_themes(cases_db):
            st.write(
                f"**{theme['title']}** · {THEME_LABELS[theme['status']]} · {theme['owner']} · "
                f"sprawy: {len(themes.case_ids(cases_db, theme['id']))}"
            )
            cols = st.columns(2)
            new_status = cols[0].selectbox(
                "Stan tematu",
                themes.STATUSES,
                index=themes.STATUSES.index(theme["status"]),
                format_func=THEME_LABELS.get,
                key=f"ts_{theme['id']}",
            )
            if new_status != theme["status"]:
                themes.set_status(cases_db, theme["id"], new_status, user.name)
                st.rerun()
            if theme["status"] == themes.RESOLVED and theme["announced_at"] is None:
                with cols[1].form(f"ta_{theme['id']}"):
                    text = st.text_area("„Powiedzieliście nam, zmieniliśmy to” (do klientów)")
                    if st.form_submit_button("Wyślij klientom, którzy się zgodzili") and text:
                        done = themes.announce(
                            cases_db,
                            theme["id"],
                            text,
                            themes.reply_sender(s.bot_url, s.rasa_api_token()),
                            consented=lambda c: (
                                board.conversation(tracker, c["sender"])[1].get("contact_consent")
                                is True
                            ),
                            who=user.name,
                        )
                        sent = sum(a.status == reply.SENT for a in done)
                        st.success(f"Wysłano {sent} z {len(done)}.")

ids = [x["id"] for x in rows] or [x["id"] for x in mine]
asked = st.query_params.get("id")
default = int(asked) if asked and asked.isdigit() and int(asked) in ids else ids[0]
case_id = st.selectbox("Sprawa", ids, index=ids.index(default))
try:
    case = store.get(case_id)
except CaseNotFound:
    st.warning("Tej sprawy już nie ma.")
    st.stop()
if not board.may_see(case, user.analyst, user.touchpoints):
    st.warning("Ta sprawa należy do innego sklepu.")
    st.stop()

st.header(f"Sprawa {case['id']}: {STATE_LABELS[case['state']]}")
m = st.columns(4)
m[0].metric("Ocena", case["score"] if case["score"] is not None else "–")
m[1].metric("Priorytet", case["priority"])
m[2].metric("SLA", SLA_LABELS.get(board.sla_of(case, now, calendars), "–"))
m[3].metric("Nowa ocena", case["winback_score"] if case["winback_score"] is not None else "–")
st.caption(
    f"Sklep: {case['store'] or '–'} · kanał: {case['channel'] or '–'} · zespół: {case['team']} · "
    f"reguła: {case['rule']} · właściciel: {case['owner'] or '–'} · otwarta {_when(case['opened_at'])}"
    f" · pierwszy kontakt do {_when(case['first_contact_due'])}"
    f" · rozwiązanie do {_when(case['resolve_due'])}"
)

lines, slots = board.conversation(tracker, case["sender"])
left, right = st.columns([3, 2])
with left:
    st.subheader("Rozmowa")
    for line in lines:
        with st.chat_message("user" if line.who == "customer" else "assistant"):
            st.markdown(f"**{WHO_LABELS[line.who]}** · {_when(line.at)}")
            st.text(line.text)
with right:
    st.subheader("Co powiedział klient")
    st.write(f"Powód: {slots.get('reason') or '–'}")
    tags = slots.get("drivers") or []
    st.write("Czynniki: " + (", ".join(tags) if tags else "–"))
    for i, answer in enumerate(slots.get("why_chain") or [], 1):
        st.write(f"Dlaczego {i}: {answer}")
    st.write(f"Zgoda na kontakt: {'tak' if slots.get('contact_consent') else 'nie'}")

st.subheader("Działania")
who = user.name
actions = st.columns(3)
if actions[0].button("Biorę tę sprawę", disabled=case["state"] in states.CLOSED):
    try:
        if case["state"] in (states.NEW, states.REOPENED):
            store.transition(case_id, states.ASSIGNED, who, owner=who)
        else:
            store.reassign(case_id, who, who)
        st.rerun()
    except states.CaseError as error:
        st.warning(str(error))
if actions[1].button("Potwierdzam alert", disabled=case["acknowledged_at"] is not None):
    store.acknowledge(case_id, who)
    st.rerun()

with st.form("move"):
    nexts = states.allowed(case["state"])
    to = st.selectbox("Zmień stan na", nexts, format_func=STATE_LABELS.get) if nexts else None
    cause = st.selectbox(
        "Przyczyna źródłowa (do zamknięcia)",
        [None, *catalogue],
        format_func=lambda d: "–" if d is None else catalogue[d].label,
    )
    resolution = st.selectbox(
        "Rozwiązanie (do zamknięcia)",
        [None, *ruleset.resolutions],
        format_func=lambda r: "–" if r is None else ruleset.resolutions[r],
    )
    note = st.text_input("Notatka do zmiany (opcjonalnie)")
    if st.form_submit_button("Zapisz", disabled=to is None):
        try:
            store.transition(
                case_id,
                to,
                who,
                owner=case["owner"] or who,
                root_cause=cause,
                resolution=resolution,
                note=note or None,
            )
        except states.CaseError as error:
            st.warning(str(error))
        else:
            if to == states.RESOLVED:
                # Won back? The bot asks the customer for a new score in the same chat.
                asked = reply.ask_winback(s.bot_url, s.rasa_api_token(), case["sender"], now)
                st.session_state["case_reply"] = (asked.status, asked.detail)
            st.rerun()

with st.form("reply", clear_on_submit=True):
    text = st.text_area("Odpowiedź dla klienta (w tym samym czacie)", max_chars=1000)
    if st.form_submit_button("Wyślij") and text.strip():
        sent = reply.send_reply(s.bot_url, s.rasa_api_token(), case["sender"], text, now)
        if sent.status == reply.SENT and case["first_contact_at"] is None:
            store.set_fields(case_id, who, first_contact_at=now)
        st.session_state["case_reply"] = (sent.status, sent.detail)
        st.rerun()
status = st.session_state.pop("case_reply", None)
if status:
    (st.success if status[0] == reply.SENT else st.warning)(
        REPLY_LABELS.get(status[0], status[0]) + (f": {status[1]}" if status[1] else "")
    )

with st.form("note", clear_on_submit=True):
    text = st.text_area("Notatka wewnętrzna")
    if st.form_submit_button("Dodaj notatkę") and text.strip():
        store.add_note(case_id, who, text)
        st.rerun()

st.subheader("Historia")
log = pd.DataFrame(store.log(case_id))
if not log.empty:
    log["at"] = log["at"].map(_when)
    widgets.table(log, ["at", "who", "action", "field", "from", "to", "note"])
notes = store.notes(case_id)
for n in notes:
    st.caption(f"{_when(n['at'])} · {n['who']}: {n['text']}")
