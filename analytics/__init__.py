"""Analytics for the NPS bot: a read-only projection of the Rasa tracker store,
statistics, a report CLI and a Streamlit dashboard. Never imports Rasa."""
