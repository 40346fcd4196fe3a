"""The frontend pages, one module each, loaded by Streamlit from their files."""
