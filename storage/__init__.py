"""Storage plumbing that runs inside the Rasa process (bot environment).

Rasa imports this package to load the tracker store and the lock store
named in endpoints.yml, which makes it the one place our code runs inside
`rasa run` early. Installed here, only in that process (tests and tools that
import storage keep Rasa and their logs as they are):

* the log redaction (storage/log_privacy.py), so no conversation or phone
  number reaches rasa.log;
* the turn guard (storage/turn_guard.py): a database or action-server
  failure fails the turn instead of restarting the conversation or losing
  its slots, a turn is bounded in time, and a message already stored is not
  processed again;
* the check of action-server answers with a validator built once
  (storage/action_schema.py), the same check at a fraction of Rasa's cost.
"""

import sys
from pathlib import Path

# `rasa run` (the console script) or `python -m rasa run`.
_program = Path(sys.argv[0] if sys.argv else "")
if _program.name == "rasa" or _program.parent.name == "rasa":
    from storage import action_schema, log_privacy, turn_guard

    log_privacy.install()
    turn_guard.install()
    action_schema.install()
