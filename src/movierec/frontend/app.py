"""Streamlit entry point of the frontend: page config, navigation and the API status badge.

Run it with `movierec frontend` (port 8502), which calls `streamlit run` on this file; the
API address comes from MOVIEREC_API_URL (default http://localhost:8000).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from movierec.frontend.components import inject_styles, status_badge

VIEWS = Path(__file__).parent / "views"

st.set_page_config(
    page_title="MovieRec: find your next movie", page_icon=":material/movie:", layout="wide"
)
inject_styles()
navigation = st.navigation(
    [
        st.Page(
            VIEWS / "personalized.py", title="For you", icon=":material/recommend:", default=True
        ),
        st.Page(VIEWS / "onboarding.py", title="New here?", icon=":material/waving_hand:"),
        st.Page(VIEWS / "ratings.py", title="Your ratings", icon=":material/star:"),
        st.Page(VIEWS / "similar.py", title="Similar movies", icon=":material/join_inner:"),
        st.Page(VIEWS / "popular.py", title="Popular", icon=":material/local_fire_department:"),
        st.Page(VIEWS / "about.py", title="About", icon=":material/info:"),
        st.Page(VIEWS / "account.py", title="Account", icon=":material/account_circle:"),
    ]
)
navigation.run()
status_badge()
