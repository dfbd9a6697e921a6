"""The "Trening bota" page (analytics/dashboard/views/training.py) under
AppTest, on the hand-worked store of test_inbox.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from analytics.tests.test_inbox import build
from analytics.tests.test_retrain import _model

PAGE = Path(__file__).resolve().parents[1] / "dashboard" / "views" / "training.py"


@pytest.fixture(autouse=True)
def on_loopback(monkeypatch):
    """As make run starts the dashboard by default: on loopback, no login."""
    before = st_config.get_option("server.address")
    st_config.set_option("server.address", "127.0.0.1")
    monkeypatch.delenv("NPS_HOST", raising=False)
    monkeypatch.delenv("NPS_DATA_DIR", raising=False)
    yield
    st_config.set_option("server.address", before)


def _page(tmp_path, monkeypatch, retrain_answers: str) -> AppTest:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    build(url)
    model = tmp_path / "model.tar.gz"
    _model(model, "2023-11-14T22:00:00")  # before every event of the store
    monkeypatch.setenv("NPS_DB_URL", url)
    monkeypatch.setenv("NPS_MODEL_PATH", str(model))
    monkeypatch.setenv("NPS_RETRAIN_ANSWERS", retrain_answers)
    at = AppTest.from_file(str(PAGE), default_timeout=90)
    at.run()
    assert not at.exception
    return at


def test_page_shows_answers_share_advice_and_inbox(tmp_path, monkeypatch):
    at = _page(tmp_path, monkeypatch, "5")
    metrics = {m.label: m.value for m in at.metric}
    # Answers (a question pending): rest:a 6 (score x2, reason, three whys),
    # rest:b 1, the employee 2; not understood: rest:a 4, rest:b 1, employee 1.
    # 6 / 9 = 66.7 %. The test chat rest:try-1 is not counted.
    assert metrics["Odpowiedzi od treningu 2023-11-14 22:00 UTC"] == "9"
    assert metrics["Niezrozumiane"] == "6"
    assert metrics["Udział niezrozumianych"] == "66.7 %"
    # 9 answers >= 5: time to retrain.
    assert at.warning[0].value.startswith("Czas na ponowny trening: 9 odpowiedzi")
    table = at.dataframe[0].value
    assert table.iloc[0]["liczba"] == 2 and table.iloc[0]["tekst"] == "asdfgh qwerty"
    assert "zadzwońcie <telefon> albo napiszcie <e-mail>" in set(table["tekst"])
    assert not any("600" in t or "@" in t for t in table["tekst"])
    assert "make inbox" in at.code[0].value and "make eval" in at.code[0].value


def test_page_says_too_early(tmp_path, monkeypatch):
    at = _page(tmp_path, monkeypatch, "5000")
    # 9 answers < 100: the share is not judged yet; 9 < 5000.
    assert not at.warning
    assert at.success[0].value.startswith("Jeszcze za wcześnie: 9 odpowiedzi")
