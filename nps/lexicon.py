"""The trainers' lexicon: driver words and praise/complaint phrases found in a text.

Trainers list, per driver in data/drivers.yml, neutral ``words`` that name
the driver and ``pos`` / ``neg`` phrases, plus a top-level ``polarity:``
section of praise and complaint words for any driver. ``find`` returns every
place a text says one of them, as a ``Hit``.

Matching compares lemmas (nps.lemmas), so a phrase written in one form finds
the others. A phrase matches when its words appear in this order, with at
most ``MAX_GAP`` other words between two of them, inside one clause (no
sentence or clause punctuation, no "ale"-like contrast word in between);
"się" is ignored, since Polish puts it before or after the verb. A word
also matches on its folded form, so a form the lemma tables resolve oddly
can be listed as written.

Negation: a phrase said inside a negation's scope turns around ("nie
polecam": praise said negatively is a complaint; "nie było problemu": a
complaint word negated is praise). A phrase that holds a negation itself
("paczka nie dotarła") is taken as written. Talk about a thing negated is
not the thing negated: after "o" the negation stops ("nikt nie informował
o opóźnieniu" is a delay).

Doubt: a praise or complaint right after "niby", "rzekomo", "podobno" is
what the customer was promised, not their opinion ("niby tanie, ale..."):
the hit keeps its driver and loses its polarity.

A two-word phrase matches in either order ("dostawa szybka" too), unless a
word of it is a preposition or such ("na czas").

One word has one meaning: where hits share a word, the one that matched
more words wins, then the tighter one ("kurier niemiły" is one delivery
complaint, not also the general word "niemiły"; in "obsługa klienta
fatalna", "obsługa klienta" is customer support, not the shop staff's
"obsługa ... fatalna").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from nps import lemmas, trainer_yaml
from nps.drivers import NEGATIVE, POSITIVE
from nps.trainer_yaml import TrainerFileError

# At most this many other words between two words of a phrase.
MAX_GAP = 2
# Words that carry a negation themselves: a phrase holding one is taken as written.
NEGATORS = frozenset({"nie", "bez", "brak", "ani", "zaden", "nikt", "nic", "nigdy", "zero"})
# Words of doubt: praise or complaint right after one is what the customer
# was promised, not what they think ("niby tanie, ale to wyrzucone
# pieniądze", "rzekomo darmowa dostawa"): it says no polarity. Not the
# concessive "wprawdzie" / "co prawda", which grant the point ("wprawdzie
# drogo, ale warto": it is still expensive).
DOUBTERS = frozenset({"niby", "rzekomo", "podobno", "ponoc"})
# A doubt word reaches this many words ahead.
_DOUBT_REACH = 2
# Folded words skipped when matching: the reflexive particle moves around the verb.
_IGNORED = frozenset({"sie"})
# A phrase does not reach across these (between two of its words).
_CLAUSE_END = re.compile(r"[.!?;:,()\n]")
# Nor across a contrast or a list: "mało pracowników i kolejki" is not "mało kolejek".
_CONTRAST = frozenset({"ale", "lecz", "jednak", "natomiast", "i", "oraz", "lub", "albo"})
# "bez karty za wysokie": "bez" and "brak" negate the noun after them, not
# what follows it (nps.lemmas gives every negator the same scope).
_NOUN_NEGATORS = frozenset({"bez", "brak"})
# Not saying or knowing about a complaint does not deny it: "nikt nie
# informował o opóźnieniu" is still a delay. A negation does not reach a word
# after one of these.
_ABOUT = frozenset({"o"})
# A two-word phrase also matches in the other order ("szybka dostawa",
# "dostawa szybka"; "zgubić paczkę", "paczkę zgubili"): Polish word order is
# free. Not when one of its words is one of these: "na czas" is not "czas na".
_FIXED_ORDER = frozenset(
    {"w", "we", "na", "do", "z", "ze", "za", "po", "od", "o", "u", "przy", "pod", "nad", "przez"}
    | {"dla", "jak", "i", "a", "to", "tak", "juz", "jeszcze", "bardzo", "zbyt"}
)
_LISTS = {"words": None, "pos": POSITIVE, "neg": NEGATIVE}


@dataclass(frozen=True)
class Hit:
    """One place in a text where the lexicon matched.

    ``driver`` is None for a general praise/complaint word (``polarity:``);
    ``polarity`` is None for a driver word that says neither. ``start`` and
    ``end`` are character offsets into the text; ``phrase`` is the entry as
    the trainer wrote it; ``negated`` says the polarity was turned around.
    """

    driver: str | None
    polarity: str | None
    start: int
    end: int
    phrase: str
    negated: bool = False
    # Indices of the matched words in lemmas.analyse(text) (gap words are not).
    words: tuple[int, ...] = field(default=(0,), compare=False)

    @property
    def first_word(self) -> int:
        return self.words[0]

    @property
    def last_word(self) -> int:
        return self.words[-1]


@dataclass(frozen=True)
class _Token:
    lemma: str
    folded: str

    def matches(self, word: lemmas.Word) -> bool:
        return bool({word.lemma, word.folded} & {self.lemma, self.folded})


@dataclass(frozen=True)
class Entry:
    """One trainer's entry: a driver's word or phrase, or a general polar word."""

    driver: str | None
    polarity: str | None
    phrase: str
    tokens: tuple[_Token, ...]
    line: int | None = None

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(t.lemma for t in self.tokens)

    @property
    def has_negator(self) -> bool:
        return any(t.lemma in NEGATORS or t.folded in NEGATORS for t in self.tokens)

    @property
    def orders(self) -> tuple[tuple[_Token, ...], ...]:
        """The word orders this entry matches in."""
        free = len(self.tokens) == 2 and not any(
            t.folded in _FIXED_ORDER or t.folded in NEGATORS for t in self.tokens
        )
        return (self.tokens, self.tokens[::-1]) if free else (self.tokens,)


@dataclass(frozen=True)
class Lexicon:
    entries: tuple[Entry, ...]
    # A first word's lemma and folded form -> (entry, its words in one order).
    index: dict[str, tuple[tuple[Entry, tuple[_Token, ...]], ...]] = field(
        compare=False, repr=False
    )

    @property
    def drivers(self) -> frozenset[str]:
        return frozenset(e.driver for e in self.entries if e.driver)

    def find(self, text: str, words: Sequence[lemmas.Word] | None = None) -> list[Hit]:
        """Every hit in the text, longest first where they overlap, in text order.

        ``words`` is ``lemmas.analyse(text)`` when the caller has it already.
        """
        words = list(lemmas.analyse(text) if words is None else words)
        hits: list[Hit] = []
        for i, word in enumerate(words):
            if word.folded in _IGNORED:
                continue
            candidates = self.index.get(word.lemma, ()) + (
                self.index.get(word.folded, ()) if word.folded != word.lemma else ()
            )
            seen: set[int] = set()
            for entry, tokens in candidates:
                if id(tokens) in seen:
                    continue
                seen.add(id(tokens))
                matched = _match(tokens, words, i, text)
                if matched is not None:
                    hit = _hit(entry, words, matched, text)
                    if hit.driver is not None or hit.polarity is not None:
                        hits.append(hit)  # a doubted general word says nothing
        return _longest(hits)


def _match(
    tokens: Sequence[_Token], words: Sequence[lemmas.Word], start: int, text: str
) -> list[int] | None:
    """Word indices matching the tokens from ``start`` on, or None."""
    if not tokens[0].matches(words[start]):
        return None
    matched = [start]
    for token in tokens[1:]:
        position = matched[-1] + 1
        skipped = 0
        while True:
            if position >= len(words) or _boundary(words, position - 1, position, text):
                return None
            word = words[position]
            if word.folded in _IGNORED:
                position += 1
                continue
            if token.matches(word):
                matched.append(position)
                break
            if word.folded in _CONTRAST or skipped >= MAX_GAP:
                return None
            skipped += 1
            position += 1
    return matched


def _boundary(words: Sequence[lemmas.Word], left: int, right: int, text: str) -> bool:
    return bool(_CLAUSE_END.search(text, words[left].end, words[right].start))


def _negated(words: Sequence[lemmas.Word], i: int) -> bool:
    if not words[i].negated:
        return False
    for j in range(i - 1, -1, -1):
        if words[j].folded in NEGATORS or words[j].lemma in NEGATORS:
            if any(words[k].folded in _ABOUT for k in range(j + 1, i)):
                return False
            return not (words[j].folded in _NOUN_NEGATORS and i - j > 1)
    return True


def _doubted(words: Sequence[lemmas.Word], first: int, text: str) -> bool:
    for j in range(first - 1, max(first - 1 - _DOUBT_REACH, -1), -1):
        if _boundary(words, j, j + 1, text):
            return False
        if words[j].folded in DOUBTERS:
            return True
    return False


def _hit(entry: Entry, words: Sequence[lemmas.Word], matched: list[int], text: str) -> Hit:
    negated = (
        entry.polarity is not None
        and not entry.has_negator
        and any(_negated(words, i) for i in matched)
    )
    polarity = entry.polarity
    if negated:
        polarity = NEGATIVE if polarity == POSITIVE else POSITIVE
    if polarity is not None and _doubted(words, matched[0], text):
        polarity, negated = None, False
    return Hit(
        driver=entry.driver,
        polarity=polarity,
        start=words[matched[0]].start,
        end=words[matched[-1]].end,
        phrase=entry.phrase,
        negated=negated,
        words=tuple(matched),
    )


def _rank(hit: Hit) -> tuple[int, int]:
    """More matched words first, then fewer words skipped between them."""
    return len(hit.words), -(hit.last_word - hit.first_word)


def _longest(hits: list[Hit]) -> list[Hit]:
    """One meaning per word: a hit sharing a matched word with a better one
    (``_rank``) is dropped; one hit per driver, polarity and place."""
    kept: list[Hit] = []
    seen: set[tuple] = set()
    best_at: dict[int, tuple[int, int]] = {}  # word -> rank of the best hit kept on it
    # Best first, so that a hit dropped for a better one drops nothing itself.
    for hit in sorted(hits, key=_rank, reverse=True):
        same = (hit.driver, hit.polarity, hit.start, hit.end)
        rank = _rank(hit)
        if same in seen or any(best_at.get(i, rank) > rank for i in hit.words):
            continue
        seen.add(same)
        kept.append(hit)
        for i in hit.words:
            best_at.setdefault(i, rank)
    kept.sort(key=lambda h: (h.start, -h.end))
    return kept


# --- loading -----------------------------------------------------------------


def _tokens(phrase: str) -> tuple[_Token, ...]:
    return tuple(
        _Token(lemma=w.lemma, folded=w.folded)
        for w in lemmas.analyse(phrase)
        if w.folded not in _IGNORED
    )


def _line_of_phrase(lines: Sequence[str], from_line: int | None, phrase: str) -> int | None:
    """The first line at or after the list's mapping that holds the phrase."""
    start = (from_line or 1) - 1
    for number in range(start, len(lines)):
        if phrase in lines[number]:
            return number + 1
    return from_line


def _entries(
    path: Path | str,
    lines: Sequence[str],
    mapping: object,
    driver: str | None,
    where: str,
    allowed: dict[str, str | None],
) -> list[Entry]:
    if not isinstance(mapping, dict):
        raise TrainerFileError(path, None, f"{where} must be a mapping of lists")
    line = trainer_yaml.line_of(mapping)
    unknown = sorted(k for k in mapping if k != trainer_yaml.LINE and k not in allowed)
    if unknown:
        raise TrainerFileError(
            path,
            line,
            f"{where}: unknown key '{unknown[0]}' (use {', '.join(sorted(allowed))})",
        )
    found: list[Entry] = []
    for key, polarity in allowed.items():
        items = mapping.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            raise TrainerFileError(path, line, f"{where}: '{key}' must be a list")
        for item in items:
            phrase = str(item).strip() if isinstance(item, str | int | float) else ""
            at = _line_of_phrase(lines, line, phrase) if phrase else line
            tokens = _tokens(phrase)
            if not tokens:
                raise TrainerFileError(path, at, f"{where}: '{key}' has an empty entry {item!r}")
            found.append(Entry(driver, polarity, phrase, tokens, at))
    return found


def _check_duplicates(path: Path | str, entries: Sequence[Entry]) -> None:
    """One meaning per phrase: errors for the contradictions a trainer can fix."""
    first: dict[tuple, Entry] = {}
    for entry in entries:
        owner = entry.driver or "polarity"
        # Under two drivers with the same polarity (words count as one polarity).
        same = first.setdefault((entry.driver is None, entry.polarity, entry.key), entry)
        if same is not entry and same.driver != entry.driver:
            raise TrainerFileError(
                path,
                entry.line,
                f"driver '{owner}': '{entry.phrase}' is listed under driver '{same.driver}' "
                f"too (line {same.line}); one phrase, one driver",
            )
        # Under both pos and neg of one driver (or of the polarity section).
        if entry.polarity is None:
            continue
        opposite = NEGATIVE if entry.polarity == POSITIVE else POSITIVE
        other = first.get((entry.driver is None, opposite, entry.key))
        if other is not None and other.driver == entry.driver:
            raise TrainerFileError(
                path,
                entry.line,
                f"{'driver ' + repr(owner) if entry.driver else 'polarity'}: '{entry.phrase}' is "
                f"listed under both pos and neg (line {other.line})",
            )


def parse(path: Path | str, data: dict, text: str) -> Lexicon:
    """The lexicon of an already loaded drivers.yml (``data``; ``text`` for lines)."""
    lines = text.splitlines()
    entries: list[Entry] = []
    if data.get("polarity") is not None:
        entries += _entries(
            path, lines, data["polarity"], None, "polarity", {"pos": POSITIVE, "neg": NEGATIVE}
        )
    for item in data.get("drivers") or []:
        if not isinstance(item, dict) or item.get("lexicon") is None:
            continue
        driver = str(item.get("id") or "").strip()
        entries += _entries(
            path, lines, item["lexicon"], driver, f"driver '{driver}': lexicon", _LISTS
        )
    _check_duplicates(path, entries)
    # The same phrase twice in one list is harmless: keep it once. Two forms of
    # one lemma are both kept: each also matches as written ("łamią się" finds
    # "lamia sie", whose lemma the tables miss, where "łamać się" does not).
    unique: dict[tuple, Entry] = {}
    for entry in entries:
        forms = tuple(t.folded for t in entry.tokens)
        unique.setdefault((entry.driver, entry.polarity, entry.key, forms), entry)
    index: dict[str, list] = {}
    for entry in unique.values():
        for tokens in entry.orders:
            for key in {tokens[0].lemma, tokens[0].folded}:
                index[key] = [*index.get(key, []), (entry, tokens)]
    return Lexicon(
        entries=tuple(unique.values()),
        index={key: tuple(group) for key, group in index.items()},
    )


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int, size: int) -> Lexicon:
    data = trainer_yaml.load(path)
    return parse(path, data, Path(path).read_text(encoding="utf-8"))


def load(path: Path | str) -> Lexicon:
    """Read and check the lexicon in data/drivers.yml; built once per file version.

    Raises TrainerFileError naming file and line.
    """
    try:
        stat = Path(path).stat()
    except FileNotFoundError:
        raise TrainerFileError(path, None, "file not found") from None
    return _load_cached(str(path), stat.st_mtime_ns, stat.st_size)


def find(text: str, lexicon: Lexicon | None = None) -> list[Hit]:
    """Hits of ``lexicon`` (by default the one in NPS_DATA_DIR/drivers.yml) in ``text``."""
    if lexicon is None:
        from nps.settings import load_settings

        lexicon = load(load_settings().data_dir / "drivers.yml")
    return lexicon.find(text)
