"""Known issues: problems that already have a fix the bot can offer at once.

Trainers list them in data/known_issues.yml. Each one says how to recognise
it as a few short phrases; a phrase matches a message when every one of its
words appears in the message, in any order. Words are compared by their
beginning so that Polish endings do not matter ("paczka" also finds
"paczki", "paczkę"); a word ending in ``*`` matches exactly that beginning
("zalog*" finds "zalogować", "zaloguję").
"""

from __future__ import annotations

import re
from collections.abc import Collection, Container, Sequence
from dataclasses import dataclass
from pathlib import Path

from nps import trainer_yaml
from nps.drivers import NEGATIVE, POSITIVE, split_tag
from nps.text import words
from nps.trainer_yaml import TrainerFileError

_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class KnownIssue:
    id: str
    driver: str
    title: str
    patterns: tuple[tuple[str, ...], ...]  # each pattern: word stems, all required
    fix: str
    link: str | None = None


def stem(word: str) -> str:
    """The beginning of a folded word that inflected forms share.

    Polish endings are mostly one or two letters: long words lose two, words
    of five letters lose one, short words are kept whole. A trailing ``*``
    means the trainer chose the beginning explicitly.
    """
    if word.endswith("*"):
        return word[:-1]
    if len(word) >= 6:
        return word[:-2]
    if len(word) == 5:
        return word[:-1]
    return word


def _pattern(phrase: str) -> tuple[str, ...]:
    # Keep a trailing '*' through word splitting, which drops punctuation.
    stems = []
    for raw in phrase.split():
        explicit = raw.endswith("*")
        for word in words(raw):
            stems.append(word if explicit else stem(word))
    return tuple(stems)


def load(path: Path | str, driver_ids: Container[str]) -> list[KnownIssue]:
    """Read and check data/known_issues.yml; errors name file, line and entry."""
    data = trainer_yaml.load(path)
    issues: list[KnownIssue] = []
    seen: set[str] = set()
    for item in trainer_yaml.require_list(path, data, "known_issues"):
        if not isinstance(item, dict):
            raise TrainerFileError(path, None, f"each known issue must be a mapping, got {item!r}")
        line = trainer_yaml.line_of(item)
        issue_id = trainer_yaml.require_text(path, item, "id", "known issue")
        label = f"entry '{issue_id}'"
        if not _ID.match(issue_id):
            raise TrainerFileError(
                path, line, f"{label}: ids use lower-case letters, digits and '_' only"
            )
        if issue_id in seen:
            raise TrainerFileError(path, line, f"{label} is listed twice")
        seen.add(issue_id)
        driver = trainer_yaml.require_text(path, item, "driver", label)
        if driver not in driver_ids:
            raise TrainerFileError(
                path, line, f"{label}: driver '{driver}' is not in data/drivers.yml"
            )
        phrases = item.get("match")
        if not isinstance(phrases, list) or not phrases:
            raise TrainerFileError(path, line, f"{label}: 'match' must be a list of phrases")
        patterns = []
        for phrase in phrases:
            pattern = _pattern(phrase) if isinstance(phrase, str) else ()
            if not pattern:
                raise TrainerFileError(path, line, f"{label}: match phrase {phrase!r} has no words")
            patterns.append(pattern)
        link = item.get("link")
        if link is not None and not (isinstance(link, str) and re.match(r"^https?://\S+$", link)):
            raise TrainerFileError(path, line, f"{label}: 'link' must be an http(s) address")
        issues.append(
            KnownIssue(
                id=issue_id,
                driver=driver,
                title=str(item.get("title") or issue_id).strip(),
                patterns=tuple(patterns),
                fix=trainer_yaml.require_text(path, item, "fix", label),
                link=link,
            )
        )
    return issues


def _pattern_matches(pattern: Sequence[str], message_words: Collection[str]) -> bool:
    return all(any(word.startswith(s) for word in message_words) for s in pattern)


def match(text: str, tags: Sequence[str], issues: Sequence[KnownIssue]) -> KnownIssue | None:
    """The first known issue the message describes, or None.

    ``tags`` are the driver tags found in this message. A message that speaks
    of the issue's driver only positively ("the tracking works great") is not
    a complaint, so it does not match.
    """
    # Each distinct word once: matching is by prefix over this set, so a
    # long message of repeated words costs no more than a short one.
    message_words = set(words(text))
    if not message_words:
        return None
    polarities: dict[str, set[str]] = {}
    for value in tags:
        driver_id, polarity = split_tag(value)
        polarities.setdefault(driver_id, set()).add(polarity)
    for issue in issues:
        said = polarities.get(issue.driver, set())
        if POSITIVE in said and NEGATIVE not in said:
            continue
        if any(_pattern_matches(p, message_words) for p in issue.patterns):
            return issue
    return None
