"""Shared fixtures for the bot's tests (bot environment, Python 3.10).

Two kinds of trainer content, never mixed:
- the trainers' own files, wherever the settings say (NPS_DATA_DIR, NPS_DOMAIN;
  by default data/ and domain/): tests of those files read them through
  `load_settings()`, so the reworded-copy test can point them elsewhere;
- the fixture files in tests/fixtures/data: tests that need specific content
  (a known issue with a link, why-questions per driver) use these, and may
  assert their texts, because the tests own them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from actions import resources

FIXTURE_DATA = Path(__file__).resolve().parent / "fixtures" / "data"

# Operator settings the actions read; unset in the action tests, so a value
# exported in the developer's shell cannot change them. A test that depends
# on one sets it with the `setting` fixture.
ACTION_SETTINGS = (
    "NPS_MAX_WHYS",
    "NPS_RESURVEY_DAYS",
    "NPS_MAX_CLARIFICATIONS",
    "NPS_REVIEW_URL",
    "NPS_EMPLOYEE_LINK_KEY",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rasa: starts a real `rasa run` process")


@pytest.fixture
def fixture_data(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The actions read tests/fixtures/data, loaded afresh for this test."""
    monkeypatch.setenv("NPS_DATA_DIR", str(FIXTURE_DATA))
    for name in ACTION_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    resources.get.cache_clear()
    yield FIXTURE_DATA
    resources.get.cache_clear()


@pytest.fixture
def setting(monkeypatch: pytest.MonkeyPatch, fixture_data: Path) -> Callable[[str, str], None]:
    """`setting("NPS_MAX_WHYS", "5")`: one operator setting, seen by the next action."""

    def set_(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        resources.get.cache_clear()

    return set_
