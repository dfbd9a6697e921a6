"""Which drivers a comment names, and with which polarity: the one place that decides.

Every caller (the bot's actions, the evaluation, the inbox) passes the text,
the NLU model's entities (DIET: type = driver id, role = pos/neg, with
``confidence_entity`` and ``confidence_role``) and the polarity the question
implies, and gets ``Finding`` s back. The rules:

1. **One phrase, one polarity.** Model entities of the same driver that
   touch or overlap (at most one word between them, no punctuation or
   contrast word) are one phrase: DIET sometimes cuts "dostawa była
   szybka" in two and gives the halves opposite roles.
2. **The polarity of a phrase is decided by its words first**, then by the
   model, then by the question:
   a. the driver's own lexicon phrases inside it ("zgubić paczkę": neg);
   b. else praise/complaint words (``polarity:`` in data/drivers.yml) inside
      it, else nearby: at most ``Understanding.window`` words away, nearer to
      it than to any other phrase, not across a sentence end or a contrast
      word ("ale", "a", "jednak"...). Negation is already applied by the
      lexicon ("nie polecam" is a complaint, "nie było problemu" praise);
      praise and complaint words that cancel out leave the words neutral;
   c. else the model's role when ``confidence_role`` reaches
      ``role_confidence`` (two halves with different roles: the surer half,
      weighted by length);
   d. else ``context_polarity``: the question answered (what promoters
      value -> pos, a why-question -> neg); only here, when the words say
      nothing;
   e. else the model's unsure role; else the phrase is dropped.
   Model entities made only of function words ("z", "po", "nie") are
   ignored, and so is a doubtful one (``confidence_entity`` under
   ``doubt_confidence``) that no lexicon or praise/complaint word supports.
3. **The lexicon adds what the model missed or was unsure of.** Lexicon hits
   of a driver the model did not tag there become phrases of their own. An
   unsure model entity (``confidence_entity`` under ``entity_confidence``)
   that the lexicon names as another driver on the same span yields to the
   lexicon; a sure one keeps its span and the lexicon hit there is dropped.
   A lexicon hit of the same driver inside a model phrase confirms it
   (``source`` "model+lexicon") and gives its words to rule 2a.
4. A lexicon phrase of neutral driver words only ("paczka", "kurier") whose
   polarity would come from the question alone is kept only when nothing
   else in the message was found: a passing mention beside a real opinion
   ("kurier przyniósł, ale produkt się zepsuł") is not an opinion.
5. **Separate phrases keep their own polarity**: "dostawa szybka, ale
   kurier niemiły" gives delivery:pos and delivery:neg; ``tags`` lists each
   ``driver:polarity`` once.

``Finding.source`` says who found the driver ("model", "lexicon",
"model+lexicon"), ``Finding.polarity_from`` who decided its polarity
("lexicon" = rule 2a, "words" = 2b, "model", "context"), so an evaluation
can count how often each one decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nps import lemmas, lexicon
from nps.drivers import NEGATIVE, POLARITIES, POSITIVE, Driver, load_catalogue, tag

MODEL = "model"
LEXICON = "lexicon"
BOTH = "model+lexicon"

# A model entity this sure of its driver is not overruled by the lexicon.
# DIET gives correct driver entities 0.5-0.99 on comments unlike its examples
# (and "mało ludzi" as assortment 0.61), so a lexicon phrase that names
# another driver on the same words is the better bet below this.
ENTITY_CONFIDENCE = 0.8
# A model entity under this, that no lexicon word and no praise/complaint word
# supports, is a guess ("nie wiem" tagged as staff at 0.26): dropped.
DOUBT_CONFIDENCE = 0.4
# A model role this sure decides the polarity when the words do not.
ROLE_CONFIDENCE = 0.6
# Praise/complaint words at most this many words away still qualify a phrase.
WINDOW = 3

# Between two words, these end a claim: neither one phrase nor its window
# reaches across them. Commas do not: "kurier był miły, pomocny" is one claim.
_SENTENCE_END = re.compile(r"[.!?;\n]")
_CONTRAST = frozenset({"ale", "a", "lecz", "jednak", "natomiast", "tylko", "choc", "chociaz"})
# Two model entities with at most this many words between them are one phrase.
_JOIN_GAP_WORDS = 1
_JOIN_BREAK = re.compile(r"[.!?;,:\n]")
# A praise/complaint word across a comma counts as this many words further.
_COMMA_WORDS = 2
# A model entity made only of these says nothing (DIET tags "z", "po", "nie").
_FUNCTION_WORDS = frozenset(
    {"a", "i", "o", "u", "w", "we", "z", "ze", "na", "do", "od", "po", "za", "przy", "pod"}
    | {"nad", "przez", "dla", "bez", "to", "ten", "ta", "te", "tego", "tej", "tym", "tak"}
    | {"nie", "no", "sie", "mi", "mnie", "ja", "ty", "on", "ona", "my", "wy", "oni", "jest"}
    | {"sa", "juz", "jeszcze", "tez", "czy", "bo", "ale", "lub", "albo", "oraz", "jak", "co"}
    | {"pol", "tylko", "nawet", "chyba", "moze", "bardzo", "raz", "jeden", "dwa", "trzy"}
)


@dataclass(frozen=True)
class Finding:
    driver: str
    polarity: str
    source: str  # MODEL | LEXICON | BOTH: who found the driver here
    start: int  # character offsets of the phrase in the text
    end: int
    # Who decided the polarity: "lexicon" | "words" | "model" | "context".
    polarity_from: str = field(default="model", compare=False)


@dataclass(frozen=True)
class Understanding:
    """What ``find_drivers`` needs besides the message: built once per process."""

    catalogue: Mapping[str, Driver]
    lexicon: lexicon.Lexicon
    entity_confidence: float = ENTITY_CONFIDENCE
    doubt_confidence: float = DOUBT_CONFIDENCE
    role_confidence: float = ROLE_CONFIDENCE
    window: int = WINDOW


def load(data_dir: Path | str) -> Understanding:
    """The catalogue and lexicon of ``data_dir``/drivers.yml (errors name file and line)."""
    path = Path(data_dir) / "drivers.yml"
    return Understanding(catalogue=load_catalogue(path), lexicon=lexicon.load(path))


@dataclass
class _Phrase:
    driver: str
    start: int
    end: int
    source: str
    confidence: float = 1.0  # the model's least sure entity in the phrase
    # (role, confidence, characters) of each model entity in the phrase.
    roles: list[tuple[str, float, int]] = field(default_factory=list)
    hits: list[lexicon.Hit] = field(default_factory=list)  # the driver's own
    first_word: int | None = None
    last_word: int | None = None

    def overlaps(self, start: int, end: int) -> bool:
        return start < self.end and self.start < end


# --- the model's entities ----------------------------------------------------


def _confidence(entity: Mapping, key: str) -> float:
    # A hand-made entity (tests, an older model) without confidences is sure.
    value = entity.get(key)
    return 1.0 if value is None else float(value)


def _span(entity: Mapping, text: str) -> tuple[int, int] | None:
    start, end = entity.get("start"), entity.get("end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
        return start, end
    value = entity.get("value")
    if isinstance(value, str) and value and value in text:
        at = text.index(value)
        return at, at + len(value)
    return None


def _joinable(text: str, words: Sequence[lemmas.Word], end: int, start: int) -> bool:
    """May two entities of one driver, ``end`` .. ``start`` apart, be one phrase?"""
    if start <= end:
        return True
    if _JOIN_BREAK.search(text, end, start):
        return False
    between = [w for w in words if w.start >= end and w.end <= start]
    return len(between) <= _JOIN_GAP_WORDS and not any(w.folded in _CONTRAST for w in between)


def _model_phrases(
    text: str, words: Sequence[lemmas.Word], entities: Iterable[Mapping], u: Understanding
) -> list[_Phrase]:
    spans = []
    for entity in entities or ():
        driver = entity.get("entity")
        span = _span(entity, text)
        if driver not in u.catalogue or span is None:
            continue
        inside = [w.folded for w in words if w.start < span[1] and span[0] < w.end]
        if all(w in _FUNCTION_WORDS for w in inside):
            continue  # no word of content: nothing to hold a driver
        spans.append((span, driver, entity))
    spans.sort(key=lambda item: item[0])
    phrases: list[_Phrase] = []
    for (start, end), driver, entity in spans:
        role = entity.get("role")
        confidence = _confidence(entity, "confidence_entity")
        role_entry = (
            [(role, _confidence(entity, "confidence_role"), end - start)]
            if role in POLARITIES
            else []
        )
        same = next(
            (
                p
                for p in reversed(phrases)
                if p.driver == driver and _joinable(text, words, p.end, start)
            ),
            None,
        )
        if same is not None:
            same.start, same.end = min(same.start, start), max(same.end, end)
            same.confidence = min(same.confidence, confidence)
            same.roles += role_entry
        else:
            phrases.append(_Phrase(driver, start, end, MODEL, confidence, role_entry))
    return phrases


# --- merging with the lexicon --------------------------------------------------


def _lexicon_phrases(
    hits: Sequence[lexicon.Hit], words: Sequence[lemmas.Word], text: str, window: int
) -> list[_Phrase]:
    """Hits of one driver close together in one clause ("produkty szybko się
    psują": "produkt" + "psuć się") are one phrase."""
    phrases: list[_Phrase] = []
    for hit in sorted(hits, key=lambda h: (h.start, h.end)):
        last = phrases[-1] if phrases else None
        if (
            last is not None
            and last.driver == hit.driver
            and last.last_word is not None
            and hit.first_word - last.last_word <= window
            and (
                hit.first_word <= last.last_word
                or not (
                    _JOIN_BREAK.search(text, words[last.last_word].end, hit.start)
                    or _separated(words, text, last.last_word, hit.first_word)
                )
            )
        ):
            last.end = max(last.end, hit.end)
            last.last_word = max(last.last_word, hit.last_word)
            last.hits.append(hit)
            continue
        phrases.append(
            _Phrase(
                hit.driver,
                hit.start,
                hit.end,
                LEXICON,
                hits=[hit],
                first_word=hit.first_word,
                last_word=hit.last_word,
            )
        )
    return phrases


def _merge(
    model: list[_Phrase],
    hits: Sequence[lexicon.Hit],
    words: Sequence[lemmas.Word],
    text: str,
    u: Understanding,
) -> list[_Phrase]:
    """Model phrases confirmed, overruled or completed by the lexicon's driver hits."""
    loose: list[lexicon.Hit] = []
    overruled: set[int] = set()
    for hit in hits:
        touched = [p for p in model if p.overlaps(hit.start, hit.end)]
        same = [p for p in touched if p.driver == hit.driver]
        if same:
            for phrase in same:
                phrase.hits.append(hit)
                phrase.source = BOTH
            continue
        if any(p.confidence >= u.entity_confidence for p in touched):
            continue  # a sure model entity keeps its span
        overruled.update(id(p) for p in touched)
        loose.append(hit)
    kept = [p for p in model if id(p) not in overruled]
    return kept + _lexicon_phrases(loose, words, text, u.window)


# --- polarity --------------------------------------------------------------------


def _word_range(phrase: _Phrase, words: Sequence[lemmas.Word]) -> None:
    inside = [i for i, w in enumerate(words) if w.start < phrase.end and phrase.start < w.end]
    if inside:
        phrase.first_word, phrase.last_word = inside[0], inside[-1]


def _vote(polarities: Iterable[str | None]) -> str | None:
    score = sum(1 if p == POSITIVE else -1 if p == NEGATIVE else 0 for p in polarities)
    return POSITIVE if score > 0 else NEGATIVE if score < 0 else None


def _separated(words: Sequence[lemmas.Word], text: str, left: int, right: int) -> bool:
    """A sentence end or a contrast word lies between word ``left`` and ``right``."""
    if _SENTENCE_END.search(text, words[left].end, words[right].start):
        return True
    return any(words[i].folded in _CONTRAST for i in range(left + 1, right))


def _distance(phrase: _Phrase, hit: lexicon.Hit) -> int | None:
    """Words between the phrase and the hit; 0 inside; None without word range."""
    if phrase.first_word is None or phrase.last_word is None:
        return None
    if hit.last_word < phrase.first_word:
        return phrase.first_word - hit.last_word
    if hit.first_word > phrase.last_word:
        return hit.first_word - phrase.last_word
    return 0


def _polar_words_by_phrase(
    phrases: Sequence[_Phrase],
    polar: Sequence[lexicon.Hit],
    words: Sequence[lemmas.Word],
    text: str,
    window: int,
) -> dict[int, tuple[list, list]]:
    """For each phrase: praise/complaint hits inside it, and the nearby ones it owns."""
    found: dict[int, tuple[list, list]] = {id(p): ([], []) for p in phrases}
    for hit in polar:
        near: list[tuple[int, _Phrase]] = []
        for phrase in phrases:
            distance = _distance(phrase, hit)
            if distance is None:
                continue
            if distance == 0:
                found[id(phrase)][0].append(hit.polarity)
                continue
            left, right = (
                (hit.last_word, phrase.first_word)
                if hit.last_word < phrase.first_word
                else (phrase.last_word, hit.first_word)
            )
            if _JOIN_BREAK.search(text, words[left].end, words[right].start):
                distance += _COMMA_WORDS
            if distance <= window + _COMMA_WORDS and not _separated(words, text, left, right):
                near.append((distance, phrase))
        if near and not any(_distance(p, hit) == 0 for p in phrases):
            nearest = min(d for d, _ in near)
            for distance, phrase in near:
                if distance == nearest:
                    found[id(phrase)][1].append(hit.polarity)
    return found


def _model_role(phrase: _Phrase, threshold: float) -> tuple[str | None, bool]:
    """The model's role for the phrase, and whether it is sure of it."""
    if not phrase.roles:
        return None, False
    weight: dict[str, float] = {}
    best: dict[str, float] = {}
    for role, confidence, length in phrase.roles:
        weight[role] = weight.get(role, 0.0) + confidence * length
        best[role] = max(best.get(role, 0.0), confidence)
    role = max(weight, key=lambda r: (weight[r], best[r]))
    return role, best[role] >= threshold


def _polarity(
    phrase: _Phrase,
    inside: list,
    nearby: list,
    u: Understanding,
    context: str | None,
) -> tuple[str | None, str]:
    own = _vote(h.polarity for h in phrase.hits if h.polarity is not None)
    if own:
        return own, "lexicon"
    by_words = _vote(inside) or _vote(nearby)
    if by_words:
        return by_words, "words"
    role, sure = _model_role(phrase, u.role_confidence)
    if role and sure:
        return role, MODEL
    if context in POLARITIES:
        return context, "context"
    if role:
        return role, MODEL
    return None, ""


# --- the one function ------------------------------------------------------------


def find_drivers(
    text: str,
    entities: Sequence[Mapping] | None,
    understanding: Understanding,
    context_polarity: str | None,
) -> list[Finding]:
    """The drivers named in ``text``, each phrase once with one polarity, in text order."""
    text = text or ""
    words = lemmas.analyse(text)
    hits = understanding.lexicon.find(text, words)
    driver_hits = [h for h in hits if h.driver in understanding.catalogue]
    polar = [h for h in hits if h.driver is None and h.polarity is not None]

    model = _model_phrases(text, words, entities or (), understanding)
    phrases = _merge(model, driver_hits, words, text, understanding)
    for phrase in phrases:
        _word_range(phrase, words)
    polar_words = _polar_words_by_phrase(phrases, polar, words, text, understanding.window)

    decided: list[tuple[_Phrase, str, str]] = []
    for phrase in phrases:
        inside, nearby = polar_words[id(phrase)]
        if (
            phrase.source == MODEL
            and phrase.confidence < understanding.doubt_confidence
            and not inside
        ):
            continue  # a guess nothing in the words supports
        polarity, by = _polarity(phrase, inside, nearby, understanding, context_polarity)
        if polarity is not None:
            decided.append((phrase, polarity, by))

    # Rule 4: a bare mention is an opinion only when it is all the message says.
    def bare(phrase: _Phrase, by: str) -> bool:
        return phrase.source == LEXICON and by == "context"

    if any(not bare(p, by) for p, _, by in decided):
        decided = [(p, pol, by) for p, pol, by in decided if not bare(p, by)]

    findings = [
        Finding(p.driver, polarity, p.source, p.start, p.end, by) for p, polarity, by in decided
    ]
    findings.sort(key=lambda f: (f.start, f.end))
    return findings


def tags(findings: Iterable[Finding]) -> list[str]:
    """``driver:polarity`` of the findings, in order, each once."""
    found: list[str] = []
    for finding in findings:
        value = tag(finding.driver, finding.polarity)
        if value not in found:
            found.append(value)
    return found
