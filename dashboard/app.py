"""The Streamlit entry point: ``streamlit run app.py`` (``tracehouse dashboard`` does this for you).

It draws what every page shares (the navigation, the sidebar's time range and collector address), then runs
the selected page from ``pages_/`` (not ``pages/``, which Streamlit would treat as its own page folder).
"""

from __future__ import annotations

import streamlit as st

from tracehouse.dashboard import session


def main() -> None:
    st.set_page_config(page_title="tracehouse", page_icon=":material/troubleshoot:", layout="wide")
    settings = session.current_settings()
    page = st.navigation([
        st.Page(session.PAGES_DIR / "overview.py", title="Overview", icon=":material/monitoring:",
                url_path="overview", default=True),
        st.Page(session.PAGES_DIR / "traces.py", title="Traces", icon=":material/list:", url_path="traces"),
        st.Page(session.PAGES_DIR / "trace.py", title="Trace", icon=":material/account_tree:", url_path="trace"),
    ])  # fmt: skip
    session.time_range_selector()
    st.sidebar.caption(f"Collector: `{settings.endpoint}`")
    page.run()


# Streamlit executes this file as ``__main__``; importing it (tests, tooling) has no side effects.
if __name__ == "__main__":
    main()
