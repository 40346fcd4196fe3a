"""The Streamlit frontend: personalised, similar, popular and about pages over the API."""
