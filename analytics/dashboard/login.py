"""The login page and the signed-in user of a dashboard session (the rules
and the users file are in auth.py, which has no Streamlit in it)."""

from __future__ import annotations

import streamlit as st

from analytics.dashboard import auth
from nps.settings import SettingError

USER_KEY = "nps_user"


def _config() -> auth.Config:
    # server.address is what Streamlit binds; unset, it binds every interface.
    return auth.load_config(address=st.get_option("server.address"))


def current_user() -> auth.User | None:
    """The signed-in user; the local analyst when no login is needed (the
    dashboard listens on loopback only); None when someone must log in."""
    user = st.session_state.get(USER_KEY)
    if isinstance(user, auth.User):
        return user
    try:
        needed = auth.login_required(_config())
    except SettingError:
        needed = True
    return None if needed else auth.LOCAL_USER


def require_user() -> auth.User:
    """For the pages: stop unless someone may see them (app.py logs in; a
    page reached any other way shows nothing)."""
    user = current_user()
    if user is None:
        st.warning("Zaloguj się na stronie głównej panelu.")
        st.stop()
    return user


def gate() -> auth.User:
    """Called first by app.py: the user of this session, or the login form
    (and nothing else) until someone logs in."""
    try:
        config = _config()
        users = auth.load_users(config.users_file)
    except SettingError as exc:
        st.error(f"Błędne ustawienie: {exc}")
        st.stop()
    if not auth.login_required(config):
        st.session_state.pop(USER_KEY, None)
        return auth.LOCAL_USER
    problem = auth.start_problem(config, users)
    if problem:
        st.error(problem)
        st.stop()
    user = _oidc_user(users) if config.login == "oidc" else _password_user(users)
    with st.sidebar:
        st.caption(f"{user.name} ({'analityk' if user.analyst else 'kierownik sklepu'})")
        if st.button("Wyloguj", key="logout"):
            st.session_state.pop(USER_KEY, None)
            if config.login == "oidc":
                st.logout()
            st.rerun()
    return user


def _password_user(users: dict[str, auth.Account]) -> auth.User:
    signed_in = st.session_state.get(USER_KEY)
    if isinstance(signed_in, auth.User):
        # The file is read on every run: a removed user or a changed role
        # takes effect at their next click.
        account = users.get(signed_in.name)
        if account is not None and account.password_hash:
            st.session_state[USER_KEY] = account.user
            return account.user
        st.session_state.pop(USER_KEY, None)
    st.title("Logowanie")
    with st.form("login"):
        name = st.text_input("Użytkownik", key="login_name")
        password = st.text_input("Hasło", type="password", key="login_password")
        submitted = st.form_submit_button("Zaloguj")
    if submitted:
        user = auth.authenticate(users, name.strip(), password)
        if user is not None:
            st.session_state[USER_KEY] = user
            st.rerun()
        st.error("Nieprawidłowa nazwa użytkownika lub hasło.")
    st.stop()


def _oidc_user(users: dict[str, auth.Account]) -> auth.User:
    """Streamlit's OpenID Connect login ([auth] in .streamlit/secrets.toml);
    the users file gives the e-mail address its role."""
    if not st.user.is_logged_in:
        st.session_state.pop(USER_KEY, None)
        st.title("Logowanie")
        st.button("Zaloguj się", key="oidc_login", on_click=st.login)
        st.stop()
    email = str(st.user.get("email") or "")
    account = users.get(email)
    if account is None:
        st.error(f"Konto {email} nie ma dostępu do panelu NPS.")
        st.button("Wyloguj", key="oidc_logout", on_click=st.logout)
        st.stop()
    st.session_state[USER_KEY] = account.user
    return account.user
