"""The embeddable web chat (static files) and a small local server for it.

`python -m channels.webchat` serves this folder; see docs/channels.md."""

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent
