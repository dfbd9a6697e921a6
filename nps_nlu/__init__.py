"""Custom Rasa NLU components (bot environment only: they import Rasa).

The language logic they wrap lives in nps/, which runs in both environments.
"""

# config.yml's names for DIET: Rasa's, or ours that loads in seconds
# (nps_nlu/diet.py). Here, not there, so a script can tell without importing TensorFlow.
DIET_NAMES = frozenset({"DIETClassifier", "nps_nlu.diet.FastLoadDIETClassifier"})


def is_diet(component_name: str | None) -> bool:
    """Whether a pipeline entry of config.yml is DIET."""
    return component_name in DIET_NAMES
