"""Dashboard access: a login whenever it listens beyond loopback (and not on
loopback), passwords kept only as scrypt hashes, wrong passwords refused,
no start beyond loopback without users, and store managers who see only
their touchpoints' responses on every page (numbers counted by hand)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pandas as pd
import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from analytics.dashboard import auth
from analytics.dataset import Dataset, empty_dataset
from analytics.tests.conftest import Conversation, write

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
TIMEOUT = 90
PASSWORD = "correct horse battery"  # pragma: allowlist secret (a test value)


@pytest.fixture(autouse=True)
def loopback_by_default(monkeypatch):
    """Streamlit bound to loopback, as make run / make dashboard start it;
    each test says where NPS_HOST points. Lockouts do not leak between tests."""
    before = st_config.get_option("server.address")
    st_config.set_option("server.address", "127.0.0.1")
    monkeypatch.delenv("NPS_HOST", raising=False)
    monkeypatch.delenv("NPS_DASHBOARD_LOGIN", raising=False)
    auth._failures.clear()
    yield
    st_config.set_option("server.address", before)
    auth._failures.clear()


# --- loopback -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("nps.example.com", False),
        ("", False),
        (None, False),
    ],
)
def test_loopback(host, loopback):
    assert auth.is_loopback(host) is loopback


def test_either_address_beyond_loopback_needs_a_login():
    env = {"NPS_HOST": "127.0.0.1"}
    assert not auth.login_required(auth.load_config(env, address="127.0.0.1"))
    assert auth.login_required(auth.load_config(env, address="0.0.0.0"))
    assert auth.login_required(auth.load_config(env, address=None))  # Streamlit: every interface
    assert auth.login_required(auth.load_config({"NPS_HOST": "0.0.0.0"}, address="127.0.0.1"))


def test_production_needs_a_login_even_on_loopback():
    """Behind a reverse proxy on the same host the dashboard listens on
    loopback, yet is public."""
    env = {
        "NPS_HOST": "127.0.0.1",
        "NPS_ENV": "production",
        "NPS_PSEUDONYM_KEY": "p" * 32,  # pragma: allowlist secret (a test value)
        "NPS_WEBCHAT_SECRET": "w" * 32,  # pragma: allowlist secret (a test value)
        "NPS_EMPLOYEE_LINK_KEY": "e" * 32,  # pragma: allowlist secret (a test value)
    }
    config = auth.load_config(env, address="127.0.0.1")
    assert auth.login_required(config)
    assert "in production" in auth.start_problem(config, {})


# --- passwords and the users file --------------------------------------------------


def test_password_kept_only_as_a_salted_hash():
    stored = auth.hash_password(PASSWORD)
    assert PASSWORD not in stored and stored.startswith("scrypt$")
    assert auth.check_password(PASSWORD, stored)
    assert not auth.check_password(PASSWORD + "!", stored)
    assert not auth.check_password(PASSWORD, "plain$" + PASSWORD)
    assert not auth.check_password(PASSWORD, "scrypt$garbage")
    assert auth.hash_password(PASSWORD) != stored  # a new salt each time


def _answers(*replies):
    it = iter(replies)
    return lambda prompt: next(it)


def test_cli_adds_a_user_with_a_hash_in_a_private_file(tmp_path, monkeypatch, capsys):
    users_file = tmp_path / "sub" / "users.json"
    monkeypatch.setenv("NPS_DASHBOARD_USERS", str(users_file))
    argv = ["add", "ala", "--role", "store_manager", "--touchpoint", "store-a"]
    assert auth.main(argv, ask=_answers(PASSWORD, PASSWORD)) == 0
    text = users_file.read_text()
    assert PASSWORD not in text
    assert stat.S_IMODE(os.stat(users_file).st_mode) == 0o600
    users = auth.load_users(users_file)
    assert users["ala"].user == auth.User("ala", "store_manager", ("store-a",))
    assert auth.authenticate(users, "ala", PASSWORD) == users["ala"].user
    # A second user keeps the first; the list shows roles, never hashes.
    assert auth.main(["add", "ewa", "--role", "analyst"], ask=_answers(PASSWORD, PASSWORD)) == 0
    capsys.readouterr()
    assert auth.main(["list"]) == 0
    listed = capsys.readouterr().out
    assert "ala store_manager store-a" in listed and "ewa analyst" in listed
    assert "scrypt" not in listed


@pytest.mark.parametrize(
    ("argv", "replies"),
    [
        (["add", "ala", "--role", "analyst"], ("short", "short")),
        (["add", "ala", "--role", "analyst"], (PASSWORD, PASSWORD + "x")),
    ],
)
def test_cli_refuses_short_or_mistyped_passwords(argv, replies, tmp_path, monkeypatch):
    users_file = tmp_path / "users.json"
    monkeypatch.setenv("NPS_DASHBOARD_USERS", str(users_file))
    with pytest.raises(SystemExit):
        auth.main(argv, ask=_answers(*replies))
    assert not users_file.exists()


def test_cli_store_manager_needs_a_touchpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("NPS_DASHBOARD_USERS", str(tmp_path / "users.json"))
    with pytest.raises(SystemExit):
        auth.main(["add", "ala", "--role", "store_manager"], ask=_answers(PASSWORD, PASSWORD))


def test_broken_users_file_is_one_clear_line(tmp_path):
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"users": {"ala": {"role": "boss"}}}))
    with pytest.raises(auth.SettingError, match="NPS_DASHBOARD_USERS.*ala"):
        auth.load_users(path)


def test_wrong_passwords_lock_the_name_for_a_while():
    users = {"ala": auth.Account(auth.User("ala", "analyst"), auth.hash_password(PASSWORD))}
    assert auth.authenticate(users, "nobody", PASSWORD) is None
    for _ in range(auth.MAX_FAILURES):
        assert auth.authenticate(users, "ala", "guess") is None
    assert auth.authenticate(users, "ala", PASSWORD) is None  # locked, even when right
    auth._failures.clear()  # the lockout has passed
    assert auth.authenticate(users, "ala", PASSWORD) == users["ala"].user


def test_check_refuses_to_start_beyond_loopback_without_users(tmp_path, monkeypatch, capsys):
    users_file = tmp_path / "users.json"
    monkeypatch.setenv("NPS_DASHBOARD_USERS", str(users_file))
    monkeypatch.setenv("NPS_HOST", "127.0.0.1")
    assert auth.main(["check"]) == 0
    monkeypatch.setenv("NPS_HOST", "0.0.0.0")
    assert auth.main(["check"]) == 1
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and "0.0.0.0" in line and "analytics.dashboard.auth add" in line
    auth.main(["add", "ewa", "--role", "analyst"], ask=_answers(PASSWORD, PASSWORD))
    assert auth.main(["check"]) == 0


# --- what a store manager sees: pure -------------------------------------------------


def test_scope_keeps_only_the_managers_touchpoints():
    base = empty_dataset()
    ds = Dataset(
        responses=pd.DataFrame(
            {"response_id": ["r1", "r2", "r3"], "person": ["s1", "s2", "s3"]}
        ).assign(touchpoint=["store-a", "store-b", None]),
        mentions=pd.DataFrame({"response_id": ["r1", "r2"], "driver": ["price", "staff"]}),
        whys=pd.DataFrame({"response_id": ["r2"], "answer": ["b"]}),
        offers=pd.DataFrame({"response_id": ["r1", "r3"]}),
        extra_comments=pd.DataFrame({"person": ["s1", "s2"], "comment": ["a", "b"]}),
        employees=pd.DataFrame({"response_id": ["e1", "e2"], "touchpoint": ["store-a", "store-b"]}),
        employee_mentions=pd.DataFrame({"response_id": ["e1", "e2"], "driver": ["price", "staff"]}),
    )
    assert auth.scope(ds, auth.User("ewa", "analyst")) is ds
    mine = auth.scope(ds, auth.User("ala", "store_manager", ("store-a",)))
    assert mine.responses["response_id"].tolist() == ["r1"]
    assert mine.mentions["driver"].tolist() == ["price"]
    assert mine.whys.empty and mine.offers["response_id"].tolist() == ["r1"]
    assert mine.extra_comments["comment"].tolist() == ["a"]
    # The mirror survey: only the manager's own stores' employees.
    assert mine.employees["response_id"].tolist() == ["e1"]
    assert mine.employee_mentions["driver"].tolist() == ["price"]
    assert base.empty  # the empty dataset of the projection's columns is still empty


def test_scope_live_keeps_only_the_managers_surveys_and_their_messages():
    recent = pd.DataFrame({"klient": ["k1", "k2"], "touchpoint": ["store-a", "store-b"]})
    messages = [{"klient": "k1", "text": "a"}, {"klient": "k2", "text": "b"}, {"klient": "k3"}]
    manager = auth.User("ala", "store_manager", ("store-a",))
    mine, said = auth.scope_live(recent, messages, manager)
    assert mine["klient"].tolist() == ["k1"] and [m["text"] for m in said] == ["a"]
    assert auth.scope_live(None, messages, manager) == (None, [])
    assert auth.scope_live(recent, messages, auth.User("ewa", "analyst"))[1] == messages


# --- the dashboard under AppTest -------------------------------------------------------


def _survey(sender: str, touchpoint: str, score: int, reason: str, start: float) -> Conversation:
    return (
        Conversation(sender, "whatsapp", start=start)
        .session()
        .user("hej")
        .slot("touchpoint", touchpoint)
        .form()
        .slot("nps_score", score)
        .user(reason)
        .slot("reason", reason)
        .form(None)
        .slot("survey_outcome", "finished")
    )


# (touchpoint, score, reason): store-a 10, 9, 3 -> 2 promoters, 1 detractor of 3,
# NPS 33.3; store-b 0, 2 -> -100; store-c 8 -> a passive. Everyone: 2 promoters,
# 3 detractors of 6, NPS -16.7; store-a and store-c: 2 and 1 of 4, NPS 25.0.
STORES = [
    ("store-a", 10, "sklep-a super obsługa"),
    ("store-a", 9, "sklep-a szybko"),
    ("store-a", 3, "sklep-a kolejka"),
    ("store-b", 0, "sklep-b brudno"),
    ("store-b", 2, "sklep-b drogo"),
    ("store-c", 8, "sklep-c w porządku"),
]


@pytest.fixture
def stores(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'stores.db'}"
    conversations = [
        _survey(f"4860010020{i}", tp, score, reason, 1_700_000_000.0 + 1000 * i)
        for i, (tp, score, reason) in enumerate(STORES)
    ]
    write(url, *conversations)
    users_file = tmp_path / "users.json"
    hashed = auth.hash_password(PASSWORD)
    auth.save_users(
        users_file,
        {
            "ewa": auth.Account(auth.User("ewa", "analyst"), hashed),
            "ala": auth.Account(auth.User("ala", "store_manager", ("store-a",)), hashed),
            "ola": auth.Account(auth.User("ola", "store_manager", ("store-a", "store-c")), hashed),
        },
    )
    monkeypatch.setenv("NPS_DB_URL", url)
    monkeypatch.setenv("NPS_ANALYTICS_DB_URL", f"sqlite:///{tmp_path / 'analytics.db'}")
    monkeypatch.setenv("NPS_PSEUDONYM_KEY", "test-key")
    monkeypatch.setenv("NPS_DASHBOARD_USERS", str(users_file))
    return users_file


def _log_in(name: str, password: str = PASSWORD) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    assert not at.exception
    return at


def _texts(at: AppTest) -> str:
    parts = []
    for kind in ("title", "caption", "info", "warning", "error", "text", "markdown"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def _frames(at: AppTest) -> str:
    return "\n".join(e.value.to_csv() for e in at.dataframe)


def _metrics(at: AppTest) -> dict:
    return {m.label: m.value for m in at.metric}


def test_on_loopback_no_login(stores):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert _metrics(at)["Odpowiedzi"] == "6"
    assert not [w for w in at.text_input if w.key == "login_password"]


def test_beyond_loopback_only_the_login_form(stores, monkeypatch):
    monkeypatch.setenv("NPS_HOST", "0.0.0.0")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert [w.key for w in at.text_input] == ["login_name", "login_password"]
    assert not at.metric and not at.dataframe
    assert "sklep-" not in _texts(at)


def test_streamlit_on_every_interface_needs_a_login_too(stores):
    st_config.set_option("server.address", "0.0.0.0")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert "login_password" in [w.key for w in at.text_input] and not at.metric


def test_wrong_password_refused(stores, monkeypatch):
    monkeypatch.setenv("NPS_HOST", "0.0.0.0")
    at = _log_in("ewa", PASSWORD + "x")
    assert "Nieprawidłowa nazwa użytkownika lub hasło." in [e.value for e in at.error]
    assert not at.metric and not at.dataframe
    at = _log_in("nobody", PASSWORD)
    assert at.error and not at.metric


def test_no_users_beyond_loopback_is_one_clear_line(stores, monkeypatch, tmp_path):
    monkeypatch.setenv("NPS_HOST", "0.0.0.0")
    monkeypatch.setenv("NPS_DASHBOARD_USERS", str(tmp_path / "missing.json"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert len(at.error) == 1 and "nobody can log in" in at.error[0].value
    assert not at.text_input and not at.metric


def test_analyst_sees_everything(stores, monkeypatch):
    monkeypatch.setenv("NPS_HOST", "0.0.0.0")
    at = _log_in("ewa")
    metrics = _metrics(at)
    assert metrics["Odpowiedzi"] == "6" and metrics["NPS"] == "-16.7"
    at.switch_page("views/try_bot.py").run()
    assert not at.exception and "Wypróbuj bota" in [t.value for t in at.title]


@pytest.mark.parametrize(
    ("name", "responses", "nps", "seen"),
    [("ala", 3, "33.3", {"sklep-a"}), ("ola", 4, "25.0", {"sklep-a", "sklep-c"})],
)
def test_store_manager_sees_only_their_stores(stores, monkeypatch, name, responses, nps, seen):
    monkeypatch.setenv("NPS_HOST", "0.0.0.0")
    at = _log_in(name)
    metrics = _metrics(at)
    assert metrics["Odpowiedzi"] == str(responses) and metrics["NPS"] == nps
    assert metrics["Z oceną"] == str(responses)
    unseen = {"sklep-a", "sklep-b", "sklep-c"} - seen
    # The touchpoint filter offers only their stores.
    offered = set(at.sidebar.multiselect(key="f_touchpoints").options)
    assert offered == {tp for tp, _, reason in STORES if reason.split()[0] in seen}
    for view in ("drivers", "root_causes", "known_issues", "topics", "live"):
        at.switch_page(f"views/{view}.py").run()
        assert not at.exception, view
        shown = _texts(at) + _frames(at)
        assert not any(other in shown for other in unseen), view
    # The live view (and its downloads) lists exactly their surveys.
    live = at.dataframe[0].value
    assert sorted(live["uzasadnienie"].str.split().str[0]) == sorted(
        reason.split()[0] for _, _, reason in STORES if reason.split()[0] in seen
    )
    # The "Try the bot" page is not theirs.
    at.switch_page("views/try_bot.py").run()
    assert "Wypróbuj bota" not in [t.value for t in at.title]
    assert not at.chat_input


def test_a_removed_user_is_logged_out_at_the_next_click(stores, monkeypatch):
    monkeypatch.setenv("NPS_HOST", "0.0.0.0")
    at = _log_in("ala")
    assert at.metric
    users = auth.load_users(stores)
    del users["ala"]
    auth.save_users(stores, users)
    at.run()
    assert not at.metric and "login_password" in [w.key for w in at.text_input]
