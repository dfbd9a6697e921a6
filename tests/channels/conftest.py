"""Fixtures for the channel tests (see channel_helpers.py)."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.channels.channel_helpers import RasaProcess, StandIn, channel_env, train_fixture_model


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
def rasa(
    fixture_model: Path,
    stand_in: StandIn,
    webchat_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RasaProcess]:
    """A real `rasa run` with every channel configured against the stand-in,
    its web chat socket open to the local chat page only."""
    env = {**channel_env(stand_in.url), "NPS_WEBCHAT_ORIGINS": webchat_url}
    process = RasaProcess(fixture_model, tmp_path_factory.mktemp("rasa"), env).start()
    yield process
    process.stop()


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="session")
def webchat_url():
    from channels.webchat.__main__ import make_server

    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture()
def browser():
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="pip install -r requirements/channels-test.txt"
    )
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("chromium / chromium-driver not installed: run `make browser`")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="nps-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1200,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
