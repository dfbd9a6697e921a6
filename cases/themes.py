"""The outer loop, light: themes over recurring root causes.

A theme groups closed cases that share a root cause (a driver id of
data/drivers.yml) so that someone owns the fix no single case can make. It
has an owner and a status (open -> in_progress -> resolved, and back), is
linked to its cases, and once resolved may tell the linked customers who
agreed to be contacted "you told us, we changed it", once.

Tables (SQLAlchemy Core; SQLite and PostgreSQL; SQLAlchemy 1.4 and 2), in the
cases' database next to the cases but in their own MetaData: `themes` and
`theme_cases` (theme_id, case_id; a unique pair). `theme_cases.case_id` has
no foreign key, so erasing a case never fails on a theme; an erased case
simply drops out of its theme (joins skip it).

Every change of a theme's status and every link writes an entry into each
linked case's `case_log` (action "theme"), so the case's audit shows it.
Times are Unix seconds (UTC). Senders (conversation ids) are personal data:
never logged here.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cases import states
from cases.store import CaseNotFound, case_log, cases, create_tables, write

OPEN = "open"
IN_PROGRESS = "in_progress"
RESOLVED = "resolved"
STATUSES = (OPEN, IN_PROGRESS, RESOLVED)

DAY = 86400.0
# The case_log action of every theme entry.
ACTION = "theme"
# Per-case outcomes of `announce` besides cases.reply's statuses.
NO_CONSENT = "no_consent"
SAME_CUSTOMER = "same_customer"  # the customer already got it for another case of the theme

metadata = sa.MetaData()

themes = sa.Table(
    "themes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("root_cause", sa.String(255), nullable=False, index=True),
    sa.Column("owner", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("resolved_at", sa.Float),
    sa.Column("announcement", sa.Text),  # the text sent to the customers
    sa.Column("announced_at", sa.Float),
)

theme_cases = sa.Table(
    "theme_cases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("theme_id", sa.Integer, sa.ForeignKey("themes.id"), nullable=False, index=True),
    sa.Column("case_id", sa.Integer, nullable=False, index=True),
    sa.UniqueConstraint("theme_id", "case_id", name="uq_theme_cases_pair"),
)

TABLES = (themes, theme_cases)


class ThemeError(states.CaseError):
    """A change the theme does not allow; the message says why."""


class ThemeNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Suggestion:
    """A recurring root cause: its closed cases (ids, oldest first) and how
    many of them each store has (most first)."""

    root_cause: str
    count: int
    case_ids: tuple[int, ...]
    stores: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Announcement:
    """What `announce` did for one linked case: a cases.reply status
    (sent, refused_window, not_connected, error), NO_CONSENT or SAME_CUSTOMER."""

    case_id: int
    status: str
    detail: str = ""


# --- tables ------------------------------------------------------------------


def ensure_tables(engine: Engine, wait: float = 10.0) -> None:
    """Create `themes` and `theme_cases` if missing (idempotent, cases.store.create_tables)."""
    create_tables(engine, metadata, wait)


# --- suggesting (pure) ---------------------------------------------------------


def suggest(
    case_rows: Iterable[Mapping],
    min_cases: int = 3,
    within_days: float = 90,
    now: float | None = None,
    linked: Container[int] = (),
) -> list[Suggestion]:
    """Root causes of at least `min_cases` closed cases (resolved or
    unresolved) closed in the last `within_days` days before `now`, most
    cases first (ties by root cause). Cases already in a theme (`linked`,
    see `linked_case_ids`) are left out."""
    now = time.time() if now is None else now
    since = now - within_days * DAY
    grouped: dict[str, list[Mapping]] = defaultdict(list)
    for case in case_rows:
        closed_at = case.get("closed_at")
        if (
            case.get("state") not in states.CLOSED
            or not case.get("root_cause")
            or closed_at is None
            or not since <= closed_at <= now
            or case["id"] in linked
        ):
            continue
        grouped[case["root_cause"]].append(case)
    found = []
    for root_cause, members in grouped.items():
        if len(members) < min_cases:
            continue
        members.sort(key=lambda c: (c.get("opened_at") or 0.0, c["id"]))
        stores = Counter(c["store"] for c in members if c.get("store"))
        found.append(
            Suggestion(
                root_cause=root_cause,
                count=len(members),
                case_ids=tuple(c["id"] for c in members),
                stores=dict(sorted(stores.items(), key=lambda kv: (-kv[1], kv[0]))),
            )
        )
    found.sort(key=lambda s: (-s.count, s.root_cause))
    return found


# --- reading -------------------------------------------------------------------


def get(engine: Engine, theme_id: int) -> dict:
    ensure_tables(engine)
    with engine.connect() as conn:
        row = conn.execute(sa.select(themes).where(themes.c.id == theme_id)).mappings().first()
    if row is None:
        raise ThemeNotFound(f"no theme {theme_id}")
    return dict(row)


def list_themes(engine: Engine, statuses: Iterable[str] | None = None) -> list[dict]:
    """Themes, oldest first, each with `case_ids` (its cases still stored)."""
    ensure_tables(engine)
    query = sa.select(themes).order_by(themes.c.created_at, themes.c.id)
    if statuses is not None:
        query = query.where(themes.c.status.in_(list(statuses)))
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
        for row in rows:
            row["case_ids"] = _case_ids(conn, row["id"])
    return rows


def case_ids(engine: Engine, theme_id: int) -> list[int]:
    """The theme's linked cases that still exist, in id order."""
    ensure_tables(engine)
    with engine.connect() as conn:
        return _case_ids(conn, theme_id)


def _case_ids(conn, theme_id: int) -> list[int]:
    query = (
        sa.select(cases.c.id)
        .select_from(theme_cases.join(cases, cases.c.id == theme_cases.c.case_id))
        .where(theme_cases.c.theme_id == theme_id)
        .order_by(cases.c.id)
    )
    return [r[0] for r in conn.execute(query)]


def linked_case_ids(engine: Engine) -> set[int]:
    """Every case id linked to some theme (for `suggest(linked=...)`)."""
    ensure_tables(engine)
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.select(theme_cases.c.case_id))}


# --- writing -------------------------------------------------------------------


def _required(name: str, value) -> str:
    if value is None or not str(value).strip():
        raise ThemeError(f"a theme needs a {name}")
    return str(value).strip()


def _locked_theme(conn, theme_id: int) -> dict:
    query = sa.select(themes).where(themes.c.id == theme_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        raise ThemeNotFound(f"no theme {theme_id}")
    return dict(row)


def _log(conn, case_id: int, now: float, who: str, field_: str, old, new, note) -> None:
    conn.execute(
        case_log.insert().values(
            case_id=case_id,
            at=now,
            who=who,
            action=ACTION,
            field=field_,
            **{"from": old, "to": new},
            note=note,
        )
    )


def _link(conn, theme: dict, ids: Iterable[int], who: str, now: float) -> list[int]:
    """Link the cases not yet linked; each gets a case_log entry. Raises
    CaseNotFound (and nothing is linked) when a case does not exist."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return []
    existing = {r[0] for r in conn.execute(sa.select(cases.c.id).where(cases.c.id.in_(wanted)))}
    missing = [i for i in wanted if i not in existing]
    if missing:
        raise CaseNotFound(f"no case {', '.join(map(str, missing))}")
    already = {
        r[0]
        for r in conn.execute(
            sa.select(theme_cases.c.case_id).where(
                theme_cases.c.theme_id == theme["id"], theme_cases.c.case_id.in_(wanted)
            )
        )
    }
    added = [i for i in wanted if i not in already]
    for case_id in added:
        conn.execute(theme_cases.insert().values(theme_id=theme["id"], case_id=case_id))
        _log(conn, case_id, now, who, "theme", None, theme["status"], _label(theme))
    return added


def _label(theme: Mapping) -> str:
    return f"theme {theme['id']}: {theme['title']}"


def create(
    engine: Engine,
    title: str,
    root_cause: str,
    owner: str,
    case_ids: Iterable[int] = (),
    now: float | None = None,
    who: str | None = None,
) -> int:
    """A new open theme with these cases linked; returns its id. `who`
    (for the cases' audit) defaults to the owner."""
    now = time.time() if now is None else now
    values = dict(
        title=_required("title", title),
        root_cause=_required("root cause", root_cause),
        owner=_required("owner", owner),
        status=OPEN,
        created_at=now,
    )
    ensure_tables(engine)
    with write(engine) as conn:
        theme_id = conn.execute(themes.insert().values(**values)).inserted_primary_key[0]
        _link(conn, {"id": theme_id, **values}, case_ids, who or values["owner"], now)
    return theme_id


def link(
    engine: Engine,
    theme_id: int,
    case_ids: Iterable[int],
    who: str = "system",
    now: float | None = None,
) -> list[int]:
    """Link more cases to the theme; returns the ids newly linked (a case
    already linked is left as it is)."""
    now = time.time() if now is None else now
    ensure_tables(engine)
    with write(engine) as conn:
        theme = _locked_theme(conn, theme_id)
        return _link(conn, theme, case_ids, who, now)


def set_status(
    engine: Engine, theme_id: int, status: str, who: str, now: float | None = None
) -> dict:
    """Move the theme to `status` (any of STATUSES; the same one changes
    nothing). Resolving sets resolved_at, leaving resolved clears it. Each
    linked case's audit log gets an entry (field "theme", from -> to)."""
    if status not in STATUSES:
        raise ThemeError(f"a theme's status is one of {', '.join(STATUSES)}, not {status!r}")
    who = _required("person changing it", who)
    now = time.time() if now is None else now
    ensure_tables(engine)
    with write(engine) as conn:
        theme = _locked_theme(conn, theme_id)
        old = theme["status"]
        if old != status:
            resolved_at = now if status == RESOLVED else None
            conn.execute(
                themes.update()
                .where(themes.c.id == theme_id)
                .values(status=status, resolved_at=resolved_at)
            )
            for case_id in _case_ids(conn, theme_id):
                _log(conn, case_id, now, who, "theme", old, status, _label(theme))
    return get(engine, theme_id)


def announce(
    engine: Engine,
    theme_id: int,
    text: str,
    send: Callable[[str, str, float], object],
    consented: Callable[[dict], bool] = lambda case: True,
    now: float | None = None,
    who: str = "system",
) -> list[Announcement]:
    """Tell the customers of a resolved theme what changed, once.

    `send(sender, text, now)` returns something with `status` and `detail`
    (cases.reply.ReplyResult; see `reply_sender`). `consented(case)` (the
    cases row) decides who agreed to hear from us. Each customer (sender)
    gets the text at most once even with several cases in the theme.

    The theme is claimed first (announced_at set in its own transaction), so
    a second or concurrent call sends nothing and returns []: a customer is
    never messaged twice, at the price of not retrying a failed send.
    Raises ThemeError unless the theme is resolved or when `text` is empty.
    Each case's audit log gets the outcome (field "announcement")."""
    text = _required("text to announce", text)
    now = time.time() if now is None else now
    ensure_tables(engine)
    with write(engine) as conn:
        theme = _locked_theme(conn, theme_id)
        if theme["status"] != RESOLVED:
            raise ThemeError(f"theme {theme_id} is {theme['status']}: only a resolved one is told")
        if theme["announced_at"] is not None:
            return []
        conn.execute(
            themes.update()
            .where(themes.c.id == theme_id, themes.c.announced_at.is_(None))
            .values(announced_at=now, announcement=text)
        )
        query = (
            sa.select(cases)
            .select_from(theme_cases.join(cases, cases.c.id == theme_cases.c.case_id))
            .where(theme_cases.c.theme_id == theme_id)
            .order_by(cases.c.id)
        )
        linked = [dict(r) for r in conn.execute(query).mappings()]

    results: list[Announcement] = []
    told: set[str] = set()
    for case in linked:
        if not consented(case):
            results.append(Announcement(case["id"], NO_CONSENT))
        elif case["sender"] in told:
            results.append(Announcement(case["id"], SAME_CUSTOMER))
        else:
            outcome = send(case["sender"], text, now)
            status = str(getattr(outcome, "status", outcome))
            detail = str(getattr(outcome, "detail", "") or "")
            if status == "sent":
                told.add(case["sender"])
            results.append(Announcement(case["id"], status, detail))
    with write(engine) as conn:
        for result in results:
            _log(conn, result.case_id, now, who, "announcement", None, result.status, _label(theme))
    return results


def reply_sender(bot_url: str, token: str) -> Callable[[str, str, float], object]:
    """`send` for `announce` through the customer's own chat (cases.reply)."""
    from cases.reply import send_reply

    def send(sender: str, text: str, now: float):
        return send_reply(bot_url, token, sender, text, now)

    return send
