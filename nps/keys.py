"""Secret keys of this installation: configured, or made once locally.

In production every key comes from the environment (nps.settings refuses
short or missing ones). In development a key that is not configured is made
on first use and kept in var/<name>.key, readable by the service user only,
so that pseudonyms and signed web chat ids stay the same across restarts
and between the processes that share the key (bot, action server, analytics).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from nps.settings import REPO_ROOT

VAR_DIR = REPO_ROOT / "var"


def key(name: str, configured: str, var_dir: Path = VAR_DIR) -> bytes:
    """The configured key, or the local one named `name` (made if missing)."""
    if configured:
        return configured.encode("utf-8")
    path = Path(var_dir) / f"{name}.key"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32).encode("ascii")
    # O_EXCL: two processes starting at once agree on the first key written.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as file:
        file.write(value)
    return value
