"""The Streamlit entry point: ``streamlit run app.py`` (``tracehouse dashboard`` does this for you).

It draws what every page shares (the navigation, the sidebar's time range, project and collector address),
then runs the selected page from ``pages_/`` (not ``pages/``, which Streamlit would treat as its own page
folder).
"""

from __future__ import annotations

import streamlit as st

from tracehouse.dashboard import session

# (file in pages_/, title, icon, url path); the first page is the default.
PAGES = {
    "Monitor": [
        ("overview.py", "Overview", ":material/monitoring:", "overview"),
        ("traces.py", "Traces", ":material/list:", "traces"),
        ("trace.py", "Trace", ":material/account_tree:", "trace"),
        ("sessions.py", "Sessions", ":material/forum:", "sessions"),
    ],
    "Analyze": [
        ("cost.py", "Cost", ":material/payments:", "cost"),
        ("quality.py", "Quality", ":material/verified:", "quality"),
        ("clusters.py", "Failure clusters", ":material/bubble_chart:", "clusters"),
        ("drift.py", "Drift", ":material/trending_up:", "drift"),
    ],
    "Experiment": [
        ("replay.py", "Replay & compare", ":material/compare_arrows:", "replay"),
    ],
}


def main() -> None:
    st.set_page_config(page_title="tracehouse", page_icon=":material/troubleshoot:", layout="wide")
    session.count_run()
    session.apply_pending_widget_values()
    session.current_settings()  # a misconfigured endpoint stops here, with the fix
    default = PAGES["Monitor"][0][0]
    page = st.navigation({
        section: [st.Page(session.PAGES_DIR / file, title=title, icon=icon, url_path=url, default=file == default)
                  for file, title, icon, url in pages]
        for section, pages in PAGES.items()
    })  # fmt: skip
    session.time_range_selector()
    session.project_selector()
    st.sidebar.caption(f"Collector: `{session.current_settings().endpoint}`")
    page.run()


# Streamlit executes this file as ``__main__``; importing it (tests, tooling) has no side effects.
if __name__ == "__main__":
    main()
