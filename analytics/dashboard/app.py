"""NPS dashboard: `streamlit run analytics/dashboard/app.py` (or `make dashboard`).

This file only sets up navigation and the shared sidebar filters; each page
lives in views/ and stays short. (Not "pages/": Streamlit treats a pages/
folder next to the main script as the old automatic page list, which fights
st.navigation on the first run.)"""

from pathlib import Path

import streamlit as st

from analytics.dashboard import data, widgets

st.set_page_config(page_title="NPS", page_icon="📊", layout="wide")

HERE = Path(__file__).resolve().parent / "views"  # __file__ is relative under `streamlit run`
pages = [
    st.Page(HERE / "overview.py", title="Przegląd", icon="📈", url_path="overview", default=True),
    st.Page(HERE / "drivers.py", title="Czynniki", icon="🧭", url_path="drivers"),
    st.Page(
        HERE / "root_causes.py", title="Przyczyny (5 x dlaczego)", icon="🔎", url_path="root_causes"
    ),
    st.Page(HERE / "known_issues.py", title="Znane problemy", icon="🛠️", url_path="known_issues"),
    st.Page(HERE / "topics.py", title="Nowe tematy", icon="💡", url_path="topics"),
    st.Page(HERE / "live.py", title="Na żywo", icon="🟢", url_path="live"),
    st.Page(HERE / "try_bot.py", title="Wypróbuj bota", icon="💬", url_path="try_bot"),
]
FILTERED = pages[:5]  # pages that follow the sidebar filters
page = st.navigation(pages)
st.session_state[widgets.ENTRYPOINT_KEY] = True
if any(page is p for p in FILTERED):
    ds, error = data.dataset()
    if ds is not None and not ds.empty:
        widgets.sidebar_filters(ds)
page.run()
