"""Storage plumbing that runs inside the Rasa process (bot environment)."""
