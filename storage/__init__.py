"""Storage plumbing that runs inside the Rasa process (bot environment).

Rasa imports this package to load the lock store named in endpoints.yml,
which makes it the one place our code runs inside `rasa run` early: the log
redaction (storage/log_privacy.py) is installed here, so no conversation or
phone number reaches rasa.log. Only in that process: tests and tools that
import storage keep their logs as they are.
"""

import sys
from pathlib import Path

# `rasa run` (the console script) or `python -m rasa run`.
_program = Path(sys.argv[0] if sys.argv else "")
if _program.name == "rasa" or _program.parent.name == "rasa":
    from storage import log_privacy

    log_privacy.install()
