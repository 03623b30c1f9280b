"""The Streamlit front end, one module per page; `app.py` wires them together."""
