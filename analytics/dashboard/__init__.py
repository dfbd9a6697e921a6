"""Streamlit dashboard: app.py wires pages; pages only connect widgets, data, pure
processing and charts."""
