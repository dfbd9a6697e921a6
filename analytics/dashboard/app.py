"""NPS dashboard: `streamlit run analytics/dashboard/app.py` (or `make dashboard`).

This file only sets up navigation and the shared sidebar filters; each page
lives in views/ and stays short. (Not "pages/": Streamlit treats a pages/
folder next to the main script as the old automatic page list, which fights
st.navigation on the first run.)

Addresses: every page answers at /<name>. Streamlit 1.50 gives the default
page of st.navigation the root address and ignores its url_path, so a
default Przegląd would answer at / and /overview would be "Page not found".
The default page is therefore a tiny one that sends / on to /overview, and
the sidebar lists the pages itself (st.navigation's own list would show that
page too).

Access: login.gate() runs first. Beyond loopback nothing but the login form
is shown until someone logs in; a store manager gets only the pages meant
for them, each with only their touchpoints' data (widgets.scoped)."""

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from analytics.dashboard import data, login, widgets

HERE = Path(__file__).resolve().parent / "views"  # __file__ is relative under `streamlit run`


@dataclass(frozen=True)
class View:
    name: str  # views/<name>.py, served at /<name>
    title: str
    icon: str  # a Material icon: no emoji font needed
    follows_filters: bool  # the sidebar's date / channel / touchpoint filters apply to it
    analysts_only: bool = False  # hidden from store managers


VIEWS = (
    View("overview", "Przegląd", ":material/monitoring:", follows_filters=True),
    View("drivers", "Czynniki", ":material/explore:", follows_filters=True),
    View("root_causes", "Przyczyny źródłowe", ":material/manage_search:", follows_filters=True),
    View("known_issues", "Znane problemy", ":material/build:", follows_filters=True),
    View("gap", "Luka percepcji", ":material/compare_arrows:", follows_filters=True),
    View("topics", "Nowe tematy", ":material/lightbulb:", follows_filters=True),
    View("live", "Na żywo", ":material/sensors:", follows_filters=False),
    View("cases", "Sprawy", ":material/support_agent:", follows_filters=False),
    View(
        "training",
        "Trening bota",
        ":material/model_training:",
        follows_filters=False,
        analysts_only=True,
    ),
    View("try_bot", "Wypróbuj bota", ":material/chat:", follows_filters=False, analysts_only=True),
)


def main() -> None:
    st.set_page_config(page_title="NPS", page_icon=":material/monitoring:", layout="wide")
    user = login.gate()
    views = [v for v in VIEWS if user.analyst or not v.analysts_only]
    pages = {
        v.name: st.Page(HERE / f"{v.name}.py", title=v.title, icon=v.icon, url_path=v.name)
        for v in views
    }

    def start() -> None:
        st.switch_page(pages[VIEWS[0].name])

    page = st.navigation(
        [st.Page(start, title=VIEWS[0].title, default=True), *pages.values()], position="hidden"
    )
    with st.sidebar:
        for p in pages.values():
            st.page_link(p)
    view = next((v for v in views if pages[v.name] is page), None)
    st.session_state[widgets.ENTRYPOINT_KEY] = True
    st.session_state.pop(widgets.FILTERS_KEY, None)  # set again below, for this page only
    if view is not None and view.follows_filters:
        ds, _error = data.dataset()
        if ds is not None and not ds.empty:
            widgets.sidebar_filters(widgets.scoped(ds))
    page.run()


if __name__ == "__main__":  # `streamlit run` and AppTest; tests import VIEWS
    main()
