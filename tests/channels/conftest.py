"""Fixtures for the channel tests (see channel_helpers.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from channel_helpers import RasaProcess, StandIn, channel_env, train_fixture_model


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rasa: starts a real `rasa run` process")
    config.addinivalue_line("markers", "browser: drives headless Chromium")


@pytest.fixture(scope="session")
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.stop()


@pytest.fixture()
def outbox(stand_in: StandIn) -> StandIn:
    """The stand-in, emptied for this test."""
    stand_in.reset()
    return stand_in


@pytest.fixture(scope="session")
def fixture_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_fixture_model(tmp_path_factory.mktemp("fixture-model"))


@pytest.fixture(scope="session")
def rasa(fixture_model: Path, stand_in: StandIn,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaProcess]:
    """A real `rasa run` with every channel configured against the stand-in."""
    process = RasaProcess(fixture_model, tmp_path_factory.mktemp("rasa"),
                          channel_env(stand_in.url)).start()
    yield process
    process.stop()
