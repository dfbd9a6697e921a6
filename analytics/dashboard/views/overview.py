"""Overview: NPS with its interval, groups, funnel, trend, channels, touchpoints."""

import time

import pandas as pd
import streamlit as st

from analytics import outbox_status, stats
from analytics.dashboard import charts, data, login, widgets
from analytics.report import build_report

st.title("NPS: przegląd")


@st.cache_data(ttl=data.DATA_TTL_SECONDS, show_spinner=False)
def _outbox(db_url: str) -> outbox_status.OutboxStatus | None:
    try:
        return outbox_status.load(db_url)
    except Exception:  # noqa: BLE001 - the survey figures below matter more
        return None


# The bot's replies that have not (surely) reached customers: a stalled
# survey. Installation-wide, so for analysts only.
outbox = _outbox(data.settings().db_url) if login.require_user().analyst else None
if outbox is not None and outbox.exists:
    st.subheader("Wiadomości do klientów")
    cols = st.columns(4)
    cols[0].metric("Czekające na wysłanie", outbox.pending)
    age = outbox.oldest_pending_seconds
    cols[1].metric("Najstarsza czeka", "–" if age is None else f"{age / 60:.0f} min")
    cols[2].metric("Niewysłane", outbox.failed, help="odrzucone przez platformę albo zbyt stare")
    cols[3].metric("Niepewne", outbox.unknown, help="wysłane bez odpowiedzi platformy")

ds, error = data.dataset()
widgets.stop_without_data(ds, error)
part, filters = widgets.filtered(ds)
widgets.stop_if_empty(part)

s = data.settings()
report = build_report(
    widgets.scoped(ds),
    data.catalogue(),
    filters,
    now=time.time(),
    abandon_after_hours=s.abandon_after_hours,
)
ci = report["ci95"]
cols = st.columns(4)
cols[0].metric(
    "NPS",
    widgets.fmt(report["nps"]),
    help="% promotorów − % krytyków; przedział 95% metodą Walda skorygowaną (adjusted Wald)",
)
cols[0].caption(f"95%: {widgets.fmt(ci[0])} … {widgets.fmt(ci[1])}" if ci else "95%: –")
cols[1].metric("Odpowiedzi", report["responses"], help="rozpoczęte ankiety")
cols[2].metric("Z oceną", report["scored"])
cols[3].metric(
    "W toku / porzucone", f"{report['status']['in_progress']} / {report['status']['abandoned']}"
)

if report["scored"] == 0:
    st.info(
        "Nikt jeszcze nie podał oceny 0–10 w wybranych odpowiedziach, więc NPS nie da się policzyć."
    )
elif report["scored"] < 30:
    st.warning(f"Tylko {report['scored']} ocen: przedział jest szeroki, traktuj wynik ostrożnie.")

groups = pd.DataFrame(
    [
        (widgets.GROUP_LABELS[g], n, 100 * n / report["scored"] if report["scored"] else None)
        for g, n in report["groups"].items()
    ],
    columns=["group", "count", "share"],
)
left, right = st.columns(2)
with left:
    st.subheader("Grupy")
    widgets.table(groups)
with right:
    st.subheader("Lejek")
    f = report["funnel"]
    stages = pd.DataFrame(
        {
            "stage": ["rozpoczęte", "z oceną", "z uzasadnieniem", "ukończone"],
            "count": [f["started"], f["scored"], f["reason"], f["finished"]],
        }
    )
    st.altair_chart(charts.funnel(stages), use_container_width=True)

st.subheader("Trend")
period = st.radio(
    "Okres",
    ["week", "month", "quarter", "year"],
    index=1,
    horizontal=True,
    key="overview_period",
    format_func={"week": "tydzień", "month": "miesiąc", "quarter": "kwartał", "year": "rok"}.get,
)
trend = stats.trend(part.responses, period)
if trend.empty:
    st.info("Brak ocen do pokazania w czasie.")
else:
    st.altair_chart(charts.trend(trend), use_container_width=True)
    significant = trend[trend["significant"]]
    if len(significant):
        st.caption(
            "Istotne zmiany względem poprzedniego okresu (test z dla różnicy dwóch NPS, p < 0,05):"
        )
        widgets.table(significant, ["period", "n", "nps", "change", "p_value"])
    else:
        st.caption(
            "Żadna zmiana między kolejnymi okresami nie jest istotna statystycznie (p < 0,05)."
        )

# One row per breakdown: chart beside its table, which needs more than half
# the page for its eight columns.
for column, missing in (("channel", "(brak)"), ("touchpoint", "(bez punktu styku)")):
    table = stats.nps_by(part.responses, column, missing_label=missing)
    st.subheader(f"NPS: {widgets.header(column)}")
    if table.empty:
        st.info("Brak ocen.")
        continue
    if column == "channel":
        table[column] = table[column].map(lambda c: widgets.CHANNEL_LABELS.get(c, c))
    left, right = st.columns([1, 2])
    with left:
        st.altair_chart(charts.nps_by(table, column), use_container_width=True)
    with right:
        widgets.table(table)
