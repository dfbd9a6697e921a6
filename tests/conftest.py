"""Shared fixtures for the bot's tests (bot environment, Python 3.10)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
