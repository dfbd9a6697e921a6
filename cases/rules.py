"""Case rules (data/cases.yml): which survey answers open a case.

Pure: no database, no pandas. `load_rules` reads the trainers' file (errors
name file and line, nps.trainer_yaml), `first_match` picks the first rule
whose conditions all hold for one survey (`Survey`), `suppressed_by` names
the exception that silences it. `problems(data_dir)` is the check that
`make validate` runs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nps import trainer_yaml
from nps.text import words as folded_words
from nps.trainer_yaml import TrainerFileError, line_of

FILE_NAME = "cases.yml"
PRIORITIES = ("high", "normal", "low")
GROUPS = ("promoter", "passive", "detractor")
POLARITIES = ("pos", "neg")
_ID = re.compile(r"^[a-z0-9_]+$")
_CONDITIONS = (
    "group",
    "score",
    "consent",
    "drivers",
    "known_issue_failed",
    "words",
    "stores",
    "repeat_within_days",
)
_RULE_KEYS = {"id", "description", "priority", "team", "sla", *_CONDITIONS, trainer_yaml.LINE}
_EXCEPTION_KEYS = {
    "id",
    "description",
    "drivers",
    "known_issues",
    "stores",
    "from",
    "until",
    trainer_yaml.LINE,
}


@dataclass(frozen=True)
class Survey:
    """What the rules look at in one survey (a projection row plus its
    mentions and why-answers). `started_at` is a Unix time (UTC)."""

    response_id: int
    person: str
    started_at: float
    score: int | None = None
    group: str | None = None
    consent: bool | None = None
    drivers: tuple[tuple[str, str | None], ...] = ()
    known_issue: str | None = None
    issue_resolved: bool | None = None
    texts: tuple[str, ...] = ()
    store: str | None = None
    channel: str | None = None
    outcome: str | None = None
    # When the survey's last event happened (the case opens then).
    answered_at: float | None = None
    # The conversation id in the tracker store (personal data: never logged).
    sender: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    priority: str
    team: str
    first_contact_hours: float
    resolve_hours: float
    description: str = ""
    groups: tuple[str, ...] = ()
    score_min: int | None = None
    score_max: int | None = None
    consent: bool | None = None
    # (driver, polarity or None for either)
    drivers: tuple[tuple[str, str | None], ...] = ()
    known_issue_failed: bool | None = None
    # each phrase: its folded words; a word ending in * is a prefix
    words: tuple[tuple[str, ...], ...] = ()
    stores: tuple[str, ...] = ()
    repeat_within_days: float | None = None
    line: int | None = None


@dataclass(frozen=True)
class Exception_:
    id: str
    drivers: tuple[tuple[str, str | None], ...] = ()
    known_issues: tuple[str, ...] = ()
    stores: tuple[str, ...] = ()
    start: dt.date | None = None
    until: dt.date | None = None
    description: str = ""
    line: int | None = None


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    exceptions: tuple[Exception_, ...] = ()
    # code -> label
    resolutions: dict[str, str] = field(default_factory=dict)
    path: str = ""

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


# --- matching ---------------------------------------------------------------


def _driver_hit(
    wanted: Sequence[tuple[str, str | None]], found: Iterable[tuple[str, str | None]]
) -> bool:
    found = list(found)
    return any(d == fd and (p is None or p == fp) for d, p in wanted for fd, fp in found)


def _word_hit(phrases: Sequence[tuple[str, ...]], texts: Sequence[str]) -> bool:
    present = set()
    for text in texts:
        present.update(folded_words(text or ""))

    def has(word: str) -> bool:
        if word.endswith("*"):
            stem = word[:-1]
            return any(w.startswith(stem) for w in present)
        return word in present

    return any(all(has(w) for w in phrase) for phrase in phrases)


def matches(rule: Rule, survey: Survey, earlier_detractor_at: Sequence[float] = ()) -> bool:
    """Whether every condition of the rule holds. `earlier_detractor_at`:
    start times of the same person's earlier detractor surveys."""
    if rule.groups and survey.group not in rule.groups:
        return False
    if rule.score_min is not None or rule.score_max is not None:
        if survey.score is None:
            return False
        if rule.score_min is not None and survey.score < rule.score_min:
            return False
        if rule.score_max is not None and survey.score > rule.score_max:
            return False
    if rule.consent is not None and bool(survey.consent) != rule.consent:
        return False
    if rule.drivers and not _driver_hit(rule.drivers, survey.drivers):
        return False
    if rule.known_issue_failed is not None:
        failed = survey.known_issue is not None and survey.issue_resolved is False
        if failed != rule.known_issue_failed:
            return False
    if rule.words and not _word_hit(rule.words, survey.texts):
        return False
    if rule.stores and survey.store not in rule.stores:
        return False
    if rule.repeat_within_days is not None:
        window = rule.repeat_within_days * 86400.0
        if not any(0 < survey.started_at - t <= window for t in earlier_detractor_at):
            return False
    return True


def first_match(
    ruleset: RuleSet, survey: Survey, earlier_detractor_at: Sequence[float] = ()
) -> Rule | None:
    """The first rule (in file order) that matches, or None."""
    for rule in ruleset.rules:
        if matches(rule, survey, earlier_detractor_at):
            return rule
    return None


def suppressed_by(ruleset: RuleSet, survey: Survey) -> Exception_ | None:
    """The first exception covering this survey (its date and every
    condition it gives), or None."""
    day = dt.datetime.fromtimestamp(survey.started_at, dt.timezone.utc).date()
    for exc in ruleset.exceptions:
        if exc.start is not None and day < exc.start:
            continue
        if exc.until is not None and day > exc.until:
            continue
        if exc.drivers and not _driver_hit(exc.drivers, survey.drivers):
            continue
        if exc.known_issues and survey.known_issue not in exc.known_issues:
            continue
        if exc.stores and survey.store not in exc.stores:
            continue
        return exc
    return None


# --- loading ----------------------------------------------------------------


def _as_list(path, item, key: str, label: str) -> list:
    value = item.get(key)
    if value is None:
        return []
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise TrainerFileError(path, line_of(item), f"{label}: '{key}' must be a list of words")
    out = [str(v).strip() for v in value]
    if any(not v for v in out):
        raise TrainerFileError(path, line_of(item), f"{label}: '{key}' has an empty entry")
    return out


def _drivers(path, item, label: str, catalogue) -> tuple[tuple[str, str | None], ...]:
    out = []
    for text in _as_list(path, item, "drivers", label):
        driver, _, polarity = text.partition(":")
        driver, polarity = driver.strip(), polarity.strip() or None
        if polarity is not None and polarity not in POLARITIES:
            raise TrainerFileError(
                path, line_of(item), f"{label}: '{text}': the polarity must be pos or neg"
            )
        if catalogue is not None and driver not in catalogue:
            raise TrainerFileError(
                path, line_of(item), f"{label}: '{driver}' is not a driver of data/drivers.yml"
            )
        out.append((driver, polarity))
    return tuple(out)


def _bool(path, item, key: str, label: str) -> bool | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise TrainerFileError(path, line_of(item), f"{label}: '{key}' must be true or false")
    return value


def _number(path, item, key: str, label: str, minimum: float = 0) -> float:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise TrainerFileError(
            path, line_of(item), f"{label}: '{key}' must be a number of at least {minimum:g}"
        )
    return float(value)


def _unknown_keys(path, item, allowed: set, label: str) -> None:
    extra = sorted(str(k) for k in item if k not in allowed)
    if extra:
        raise TrainerFileError(path, line_of(item), f"{label}: unknown key(s) {', '.join(extra)}")


def _rule(path, item, catalogue) -> Rule:
    if not isinstance(item, dict):
        raise TrainerFileError(path, None, f"each rule must be a mapping, got {item!r}")
    rule_id = trainer_yaml.require_text(path, item, "id", "rule")
    label = f"rule '{rule_id}'"
    if not _ID.match(rule_id):
        raise TrainerFileError(
            path, line_of(item), f"{label}: ids use lower-case letters, digits and '_' only"
        )
    _unknown_keys(path, item, _RULE_KEYS, label)
    priority = trainer_yaml.require_text(path, item, "priority", label)
    if priority not in PRIORITIES:
        raise TrainerFileError(
            path, line_of(item), f"{label}: priority must be one of {', '.join(PRIORITIES)}"
        )
    team = trainer_yaml.require_text(path, item, "team", label)
    sla = item.get("sla")
    if not isinstance(sla, dict):
        raise TrainerFileError(
            path, line_of(item), f"{label}: 'sla' needs first_contact_hours and resolve_hours"
        )
    first = _number(path, sla, "first_contact_hours", label)
    resolve = _number(path, sla, "resolve_hours", label)
    if resolve < first:
        raise TrainerFileError(
            path, line_of(sla), f"{label}: resolve_hours is less than first_contact_hours"
        )
    groups = _as_list(path, item, "group", label)
    for g in groups:
        if g not in GROUPS:
            raise TrainerFileError(
                path, line_of(item), f"{label}: group '{g}' is not one of {', '.join(GROUPS)}"
            )
    score_min = score_max = None
    score = item.get("score")
    if score is not None:
        if not isinstance(score, dict) or not ({"min", "max"} & set(score)):
            raise TrainerFileError(
                path, line_of(item), f"{label}: 'score' must be like {{min: 0, max: 6}}"
            )
        for key in ("min", "max"):
            if key in score:
                v = score[key]
                if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 10:
                    raise TrainerFileError(
                        path, line_of(score), f"{label}: score {key} must be a whole number 0-10"
                    )
        score_min, score_max = score.get("min"), score.get("max")
        if score_min is not None and score_max is not None and score_min > score_max:
            raise TrainerFileError(path, line_of(score), f"{label}: score min is above max")
    repeat = item.get("repeat_within_days")
    if repeat is not None:
        repeat = _number(path, item, "repeat_within_days", label, minimum=1)
    phrases = tuple(_phrase(w) for w in _as_list(path, item, "words", label))
    if any(not p for p in phrases):
        raise TrainerFileError(path, line_of(item), f"{label}: 'words' has an entry without words")
    return Rule(
        id=rule_id,
        priority=priority,
        team=team,
        first_contact_hours=first,
        resolve_hours=resolve,
        description=str(item.get("description") or "").strip(),
        groups=tuple(groups),
        score_min=score_min,
        score_max=score_max,
        consent=_bool(path, item, "consent", label),
        drivers=_drivers(path, item, label, catalogue),
        known_issue_failed=_bool(path, item, "known_issue_failed", label),
        words=phrases,
        stores=tuple(_as_list(path, item, "stores", label)),
        repeat_within_days=repeat,
        line=line_of(item),
    )


def _phrase(text: str) -> tuple[str, ...]:
    """The folded words of a phrase; a word written with a trailing * keeps
    it (a prefix)."""
    out: list[str] = []
    for token in text.split():
        star = token.endswith("*")
        for i, word in enumerate(w := folded_words(token.rstrip("*"))):
            out.append(word + "*" if star and i == len(w) - 1 else word)
    return tuple(out)


def _date(path, item, key: str, label: str) -> dt.date | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise TrainerFileError(
            path, line_of(item), f"{label}: '{key}' must be a date, YYYY-MM-DD"
        ) from None


def _exception(path, item, catalogue, known_issues) -> Exception_:
    if not isinstance(item, dict):
        raise TrainerFileError(path, None, f"each exception must be a mapping, got {item!r}")
    exc_id = trainer_yaml.require_text(path, item, "id", "exception")
    label = f"exception '{exc_id}'"
    _unknown_keys(path, item, _EXCEPTION_KEYS, label)
    issues = tuple(_as_list(path, item, "known_issues", label))
    if known_issues is not None:
        for issue in issues:
            if issue not in known_issues:
                raise TrainerFileError(
                    path,
                    line_of(item),
                    f"{label}: '{issue}' is not a known issue of data/known_issues.yml",
                )
    start, until = _date(path, item, "from", label), _date(path, item, "until", label)
    if start and until and start > until:
        raise TrainerFileError(path, line_of(item), f"{label}: 'from' is after 'until'")
    drivers = _drivers(path, item, label, catalogue)
    stores = tuple(_as_list(path, item, "stores", label))
    if not (drivers or issues or stores or start or until):
        raise TrainerFileError(
            path,
            line_of(item),
            f"{label}: give drivers, known_issues, stores or dates (it would silence every case)",
        )
    return Exception_(
        id=exc_id,
        drivers=drivers,
        known_issues=issues,
        stores=stores,
        start=start,
        until=until,
        description=str(item.get("description") or "").strip(),
        line=line_of(item),
    )


def load_rules(
    path: Path | str, catalogue: Iterable[str] | None = None, known_issues=None
) -> RuleSet:
    """Read data/cases.yml. `catalogue` (driver ids) and `known_issues`
    (their ids), when given, are checked against; a mistake raises
    TrainerFileError naming file and line."""
    catalogue = set(catalogue) if catalogue is not None else None
    known_issues = set(known_issues) if known_issues is not None else None
    data = trainer_yaml.load(path)
    rules: list[Rule] = []
    for item in trainer_yaml.require_list(path, data, "rules"):
        rule = _rule(path, item, catalogue)
        if any(r.id == rule.id for r in rules):
            raise TrainerFileError(path, rule.line, f"rule '{rule.id}' is listed twice")
        rules.append(rule)
    if not rules:
        raise TrainerFileError(path, line_of(data), "no rules are defined")
    exceptions: list[Exception_] = []
    for item in data.get("exceptions") or []:
        exc = _exception(path, item, catalogue, known_issues)
        if any(e.id == exc.id for e in exceptions):
            raise TrainerFileError(path, exc.line, f"exception '{exc.id}' is listed twice")
        exceptions.append(exc)
    resolutions: dict[str, str] = {}
    for item in trainer_yaml.require_list(path, data, "resolutions"):
        if not isinstance(item, dict):
            raise TrainerFileError(path, None, f"each resolution must be a mapping, got {item!r}")
        code = trainer_yaml.require_text(path, item, "code", "resolution")
        if not _ID.match(code):
            raise TrainerFileError(
                path,
                line_of(item),
                f"resolution '{code}': codes use lower-case letters, digits and '_' only",
            )
        if code in resolutions:
            raise TrainerFileError(path, line_of(item), f"resolution '{code}' is listed twice")
        resolutions[code] = trainer_yaml.require_text(path, item, "label", f"resolution '{code}'")
    if not resolutions:
        raise TrainerFileError(path, line_of(data), "no resolutions are defined")
    return RuleSet(tuple(rules), tuple(exceptions), resolutions, str(path))


def load_for(data_dir: Path | str) -> RuleSet:
    """data_dir/cases.yml checked against data_dir's drivers and known issues."""
    from nps.drivers import load_catalogue

    data_dir = Path(data_dir)
    catalogue = load_catalogue(data_dir / "drivers.yml")
    issues = _known_issue_ids(data_dir / "known_issues.yml")
    return load_rules(data_dir / FILE_NAME, catalogue, issues)


def _known_issue_ids(path: Path) -> set[str] | None:
    if not path.is_file():
        return None
    data = trainer_yaml.load(path)
    items = data.get("known_issues") or []
    return {str(i.get("id")) for i in items if isinstance(i, dict) and i.get("id")}


def problems(data_dir: Path | str) -> list[str]:
    """What `make validate` reports about data/cases.yml (empty: fine)."""
    try:
        ruleset = load_for(data_dir)
    except TrainerFileError as exc:
        return [str(exc)]
    out = []
    # The issue requires a case for every detractor who agreed to be contacted.
    probes = [Survey(0, "", 0.0, score=s, group="detractor", consent=True) for s in range(7)]
    if any(first_match(ruleset, probe) is None for probe in probes):
        out.append(
            f"{ruleset.path}: no rule opens a case for every detractor who agreed to be "
            "contacted (keep a last rule with group: detractor and consent: true only)"
        )
    return out
