"""Custom Rasa NLU components (bot environment only: they import Rasa).

The language logic they wrap lives in nps/, which runs in both environments.
"""
