"""Which drivers a comment names, and with which polarity: the one place that decides.

Every caller (the bot's actions, the evaluation, the inbox) passes the text,
the NLU model's entities (DIET: type = driver id, role = pos/neg, with
``confidence_entity`` and ``confidence_role``) and the polarity the question
implies, and gets ``Finding`` s back. The rules:

1. **What the model found.** Each entity of a catalogue driver is a phrase.
   Entities made only of function words ("z", "po", "nie") are ignored,
   and so are unsure ones (under ``entity_confidence``) made only of
   praise/complaint words ("super", "działa", "minus"): they name no
   driver, and as words they qualify the phrase next to them (rule 4b).
2. **The lexicon confirms, overrules or completes it** (data/drivers.yml):
   - a lexicon hit of the same driver inside a model phrase confirms it
     (``source`` "model+lexicon") and lends it its polarity (rule 4a);
   - a model phrase neither sure (``confidence_entity`` under
     ``entity_confidence``) nor confirmed yields to a lexicon hit of another
     driver on its words, when that hit is a praise/complaint phrase or
     covers at least half of the phrase's words ("Ładowarka nie działa"
     tagged website_app at 0.61 is product_quality); the model's role goes
     with the words; unsure pieces of the same entity next to it yield too
     ("zaczął | przeciekać" both tagged staff); otherwise the hit yields to
     the model;
   - a lexicon hit on no model phrase is a phrase of its own (``source``
     "lexicon"): what the model missed.
3. **One phrase, one polarity.** Phrases of one driver next to each other
   (at most one word between, no punctuation or contrast word) are one
   phrase, unless each has praise or complaint words of its own: DIET cuts
   "dostawa była | szybka" in two and may give the halves opposite roles,
   but "dostawa szybka i kurier niemiły" are two opinions.
4. **The polarity of a phrase is decided by its words first**, then by the
   model, then by the question:
   a. the driver's own lexicon phrases in it ("zgubić paczkę": neg);
   b. else praise/complaint words (``polarity:`` in data/drivers.yml) in it,
      else nearby: at most ``window`` words away (one more across a comma,
      which counts as two words),
      nearer to it than to any other phrase, not across a sentence end or a
      contrast word ("ale", "a", "jednak"...). Negation is already applied
      by the lexicon ("nie polecam" is a complaint, "nie było problemu"
      praise); words that cancel out leave the phrase neutral;
   c. else the model's role when ``confidence_role`` reaches
      ``role_confidence`` (halves with different roles: the surer, weighted
      by length);
   d. else ``context_polarity``: the question answered (what promoters
      value -> pos, a why-question -> neg); only here, when the words say
      nothing;
   e. else the model's unsure role; else the phrase is dropped.
5. **Guesses are dropped.** A model-only phrase under ``doubt_confidence``
   with no praise/complaint word in it ("nie wiem" tagged staff at 0.26);
   a model-only phrase under ``bare_confidence`` whose polarity no word
   decides (4c-4e: only the model's role or the question): DIET tags whole
   review sentences that hold no opinion ("Zamówiłam książki dla dzieci");
   a lexicon phrase of neutral words only ("paczka", "kurier") whose
   polarity would come from the question alone, when anything else in the
   message was found ("kurier przyniósł, ale produkt się zepsuł").
6. **Separate phrases keep their own polarity**: "dostawa szybka, ale
   kurier niemiły" gives delivery:pos and delivery:neg; ``tags`` lists each
   ``driver:polarity`` once.
7. **A saving said of a promotion praises the promotion**: a one-word price
   praise ("taniej", "tanio"; not "cena ok") in a sentence that names a leaflet, code, coupon or
   sale ("w gazetce był 30% taniej") is a praise word of that promotions
   phrase, not a price:pos of its own.

``Finding.source`` says who found the driver ("model", "lexicon",
"model+lexicon"), ``Finding.polarity_from`` who decided its polarity
("lexicon" = rule 4a, "words" = 4b, "model", "context"), so an evaluation
can count how often each one decides.
"""

from __future__ import annotations

import bisect
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
# DIET gives right drivers 0.5-0.99 on comments unlike its examples, and
# wrong ones 0.6 ("mało ludzi" as assortment), so a lexicon phrase naming
# another driver on the same words is the better bet below this.
ENTITY_CONFIDENCE = 0.8
# A model entity under this, that no praise/complaint word supports, is a
# guess ("nie wiem" tagged as staff at 0.26): dropped.
DOUBT_CONFIDENCE = 0.4
# A model-only phrase whose polarity no word decides (only the model's role or
# the question) is kept only this sure: on comments in the style of product
# reviews DIET tags whole sentences with no opinion in them ("Zamówiłam
# książki dla dzieci" as product_quality) at 0.5-0.85, and its role is right
# about half the time there. Measured on data/eval/dev_comments.yml: 0.9
# keeps most sure bare mentions ("kurier" alone) and drops those guesses.
BARE_CONFIDENCE = 0.9
# A model role this sure decides the polarity when the words do not; below
# it the question decides. The roles come from nps_nlu.polarity, which is
# right 91% of the time above 0.9 and 62-70% between 0.6 and 0.9, worse than
# the question (~80%). On data/eval/dev_comments.yml (make eval-dev),
# driver:polarity F1 0.822 at 0.8, 0.829 at 0.9, 0.838 at 0.95, 0.842 with
# the role never used: only the surest roles beat the question.
ROLE_CONFIDENCE = 0.95
# Praise/complaint words at most this many words away still qualify a phrase.
WINDOW = 3

# Between two words, these end a claim: neither a phrase nor its window
# reaches across them. Commas do not: "kurier był miły, pomocny" is one claim.
_SENTENCE_END = re.compile(r"[.!?;\n]")
# "tylko" as in "kurtka super, tylko kurier się spóźnił" (the lexicon's
# phrases may hold it: "odpowiada tylko bot").
_CONTRAST = frozenset(
    {"ale", "a", "lecz", "jednak", "natomiast", "choc", "chociaz", "tylko", "zas"}
)
_CLAUSE_BREAK = re.compile(r"[.!?;,:\n]")
# Rule 7: a price praise in a sentence about a promotion praises the
# promotion. The catalogue's ids; a catalogue without them skips the rule.
_PRICE = "price"
_PROMOTIONS = "promotions"
# Two phrases of one driver with at most this many words between are one.
_JOIN_GAP_WORDS = 1
# A praise/complaint word across a comma counts as this many words further.
_COMMA_WORDS = 2
# Words that hold no content: an entity of these alone names nothing, and
# they do not count when a lexicon hit is weighed against an entity.
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
    bare_confidence: float = BARE_CONFIDENCE
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
    first_word: int | None  # word range in lemmas.analyse(text); None: no word
    last_word: int | None
    confidence: float = 1.0  # the model's surest entity in the phrase
    # (role, confidence, characters) of each model entity in the phrase.
    roles: list[tuple[str, float, int]] = field(default_factory=list)
    hits: list[lexicon.Hit] = field(default_factory=list)  # the driver's own
    inside: list[str] = field(default_factory=list)  # polarities of praise/complaint words
    nearby: list[str] = field(default_factory=list)

    def overlaps(self, hit: lexicon.Hit) -> bool:
        return hit.start < self.end and self.start < hit.end

    @property
    def has_own_words(self) -> bool:
        return bool(self.inside) or any(h.polarity for h in self.hits)


class _Text:
    """The analysed text, with the lookups the rules need."""

    def __init__(self, text: str):
        self.text = text
        self.words = lemmas.analyse(text)
        self._starts = [w.start for w in self.words]

    def word_range(self, start: int, end: int) -> tuple[int, int] | tuple[None, None]:
        first = bisect.bisect_right(self._starts, start) - 1
        if first < 0 or self.words[first].end <= start:
            first += 1
        last = bisect.bisect_left(self._starts, end) - 1
        if first > last or first >= len(self.words):
            return None, None
        return first, last

    def content(self, first: int | None, last: int | None) -> list[int]:
        if first is None or last is None:
            return []
        return [i for i in range(first, last + 1) if self.words[i].folded not in _FUNCTION_WORDS]

    def between(self, left: int, right: int) -> str:
        return self.text[self.words[left].end : self.words[right].start]

    def separated(self, left: int, right: int) -> bool:
        """A sentence end or a contrast word lies between word ``left`` and ``right``."""
        if _SENTENCE_END.search(self.between(left, right)):
            return True
        return any(self.words[i].folded in _CONTRAST for i in range(left + 1, right))


# --- the model's entities and the lexicon's hits ------------------------------


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


def _model_phrases(t: _Text, entities: Iterable[Mapping], u: Understanding) -> list[_Phrase]:
    phrases = []
    for entity in entities:
        driver = entity.get("entity")
        span = _span(entity, t.text)
        if driver not in u.catalogue or span is None:
            continue
        first, last = t.word_range(*span)
        if not t.content(first, last):
            continue  # no word of content: nothing to hold a driver
        role = entity.get("role")
        roles = (
            [(role, _confidence(entity, "confidence_role"), span[1] - span[0])]
            if role in POLARITIES
            else []
        )
        confidence = _confidence(entity, "confidence_entity")
        phrases.append(_Phrase(driver, *span, MODEL, first, last, confidence, roles))
    return phrases


def _opinion_only(t: _Text, phrase: _Phrase, polar_words: set[int], u: Understanding) -> bool:
    """An unsure model phrase whose every word of content is a praise/complaint
    word ("Jedyny minus", "działa", "super"): it names no driver, the words
    qualify the phrase next to them instead."""
    if phrase.confidence >= u.entity_confidence:
        return False
    content = t.content(phrase.first_word, phrase.last_word)
    return bool(content) and all(i in polar_words for i in content)


def _lexicon_phrase(hit: lexicon.Hit) -> _Phrase:
    return _Phrase(
        hit.driver, hit.start, hit.end, LEXICON, hit.first_word, hit.last_word, hits=[hit]
    )


def _merge(
    t: _Text, model: list[_Phrase], hits: Sequence[lexicon.Hit], u: Understanding
) -> list[_Phrase]:
    """Model phrases confirmed, overruled or completed by the lexicon's driver hits."""
    others: list[lexicon.Hit] = []
    for hit in hits:
        same = [p for p in model if p.overlaps(hit) and p.driver == hit.driver]
        for phrase in same:
            phrase.hits.append(hit)
            phrase.source = BOTH
        if not same:
            others.append(hit)
    overruled: set[int] = set()
    loose: list[_Phrase] = []
    for hit in others:
        touched = [p for p in model if p.overlaps(hit)]
        if any(p.confidence >= u.entity_confidence or p.hits for p in touched):
            continue  # a sure or confirmed model phrase keeps its words
        if all(_outweighs(t, hit, p) for p in touched):
            overruled.update(id(p) for p in touched)
            phrase = _lexicon_phrase(hit)
            # The model's praise or complaint still holds for these words.
            phrase.roles = [r for p in touched for r in p.roles]
            loose.append(phrase)
    # DIET's pieces of one phrase go together: "zaczął | przeciekać" as staff.
    grown = True
    while grown:
        grown = False
        for phrase in model:
            if id(phrase) in overruled or phrase.hits or phrase.confidence >= u.entity_confidence:
                continue
            if any(
                id(other) in overruled and _adjacent(t, *sorted((phrase, other), key=_start))
                for other in model
                if other.driver == phrase.driver
            ):
                overruled.add(id(phrase))
                grown = True
    return [p for p in model if id(p) not in overruled] + loose


def _start(phrase: _Phrase) -> int:
    return phrase.start


def _outweighs(t: _Text, hit: lexicon.Hit, phrase: _Phrase) -> bool:
    """Does a hit of another driver say more about these words than the model?"""
    if hit.polarity is not None:
        return True
    content = t.content(phrase.first_word, phrase.last_word)
    covered = [i for i in content if i in hit.words]
    return 2 * len(covered) >= len(content)


# --- one phrase, one polarity ------------------------------------------------------


def _assign_polar_words(
    t: _Text, phrases: Sequence[_Phrase], polar: Sequence[lexicon.Hit], window: int
) -> None:
    """Each praise/complaint hit goes inside its phrase, or to the nearest phrase(s)."""
    placed = [p for p in phrases if p.first_word is not None]
    placed.sort(key=lambda p: p.first_word)
    firsts = [p.first_word for p in placed]
    # A comma costs two words, so across one a word must stand close.
    reach = window + 1
    longest = max((p.last_word - p.first_word for p in placed), default=0)
    for hit in polar:
        # Only the phrases that can be within reach.
        candidates = placed[
            bisect.bisect_left(firsts, hit.first_word - reach - longest) : bisect.bisect_right(
                firsts, hit.last_word + reach
            )
        ]
        inside = [p for p in candidates if p.first_word <= hit.first_word <= p.last_word]
        for phrase in inside:
            phrase.inside.append(hit.polarity)
        if inside:
            continue
        near: list[tuple[int, _Phrase]] = []
        for phrase in candidates:
            if phrase.last_word < hit.first_word - reach:
                continue
            if hit.last_word < phrase.first_word:
                left, right = hit.last_word, phrase.first_word
            elif hit.first_word > phrase.last_word:
                left, right = phrase.last_word, hit.first_word
            else:
                continue  # overlaps without holding its first word: not this phrase's
            distance = right - left
            if "," in t.between(left, right):
                distance += _COMMA_WORDS
            if distance <= reach and not t.separated(left, right):
                near.append((distance, phrase))
        if near:
            nearest = min(d for d, _ in near)
            for distance, phrase in near:
                if distance == nearest:
                    phrase.nearby.append(hit.polarity)


def _joinable(t: _Text, left: _Phrase, right: _Phrase) -> bool:
    if left.driver != right.driver or (left.has_own_words and right.has_own_words):
        return False
    return _adjacent(t, left, right)


def _adjacent(t: _Text, left: _Phrase, right: _Phrase) -> bool:
    """At most one word between, no punctuation or contrast word."""
    if right.start <= left.end:
        return True
    if left.last_word is None or right.first_word is None:
        return False
    if _CLAUSE_BREAK.search(t.text, left.end, right.start):
        return False
    gap = [i for i in range(left.last_word + 1, right.first_word) if t.words[i].folded != "sie"]
    return len(gap) <= _JOIN_GAP_WORDS and not any(t.words[i].folded in _CONTRAST for i in gap)


def _join(t: _Text, phrases: list[_Phrase]) -> list[_Phrase]:
    """Neighbouring phrases of one driver as one (rule 3)."""
    joined: list[_Phrase] = []
    for phrase in sorted(phrases, key=lambda p: (p.start, p.end)):
        last = joined[-1] if joined else None
        if last is not None and _joinable(t, last, phrase):
            last.end = max(last.end, phrase.end)
            last.first_word, last.last_word = t.word_range(last.start, last.end)
            last.source = last.source if last.source == phrase.source else BOTH
            last.confidence = max(last.confidence, phrase.confidence)
            last.roles += phrase.roles
            last.hits += phrase.hits
            last.inside += phrase.inside
            last.nearby += phrase.nearby
        else:
            joined.append(phrase)
    return joined


def _same_sentence(t: _Text, a: int, b: int) -> bool:
    left, right = min(a, b), max(a, b)
    return left == right or not _SENTENCE_END.search(t.between(left, right))


def _savings_to_promotions(
    t: _Text, phrases: list[_Phrase], hits: Sequence[lexicon.Hit]
) -> list[_Phrase]:
    """A saving said of a promotion praises the promotion, not the prices (rule 7).

    "w gazetce był 30% taniej", "z kodem wyszło o połowę taniej": the one-word
    price praise ("taniej", "tanio") of a sentence that names a leaflet, code,
    coupon or sale goes to that promotion phrase as a praise word.
    """
    out: list[_Phrase] = []
    moved: list[tuple[_Phrase, _Phrase]] = []
    for phrase in phrases:
        own = _vote(h.polarity for h in phrase.hits if h.polarity is not None)
        # A saving is one word ("taniej", "tanio"); "cena ok" talks of the price itself.
        saving = all(len(h.words) == 1 for h in phrase.hits if h.polarity is not None)
        if phrase.driver != _PRICE or own != POSITIVE or not saving or phrase.first_word is None:
            out.append(phrase)
            continue
        targets = [
            p
            for p in phrases
            if p.driver == _PROMOTIONS
            and p.first_word is not None
            and _same_sentence(t, p.first_word, phrase.first_word)
        ]
        if not targets:
            targets = [
                _lexicon_phrase(h)
                for h in hits
                if h.driver == _PROMOTIONS and _same_sentence(t, h.first_word, phrase.first_word)
            ][:1]
        if not targets:
            out.append(phrase)
            continue
        nearest = min(targets, key=lambda p: abs(p.first_word - phrase.first_word))
        moved.append((phrase, nearest))
    for _, target in moved:
        target.inside.append(POSITIVE)
        if all(target is not p for p in out):
            out.append(target)
    return sorted(out, key=_start)


def _vote(polarities: Iterable[str | None]) -> str | None:
    score = sum(1 if p == POSITIVE else -1 if p == NEGATIVE else 0 for p in polarities)
    return POSITIVE if score > 0 else NEGATIVE if score < 0 else None


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


def _polarity(phrase: _Phrase, u: Understanding, context: str | None) -> tuple[str | None, str]:
    own = _vote(h.polarity for h in phrase.hits if h.polarity is not None)
    if own:
        return own, "lexicon"
    by_words = _vote(phrase.inside) or _vote(phrase.nearby)
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
    u = understanding
    t = _Text(text or "")
    hits = u.lexicon.find(t.text, t.words)
    driver_hits = [h for h in hits if h.driver in u.catalogue]
    polar = [h for h in hits if h.driver is None and h.polarity is not None]

    polar_words = {i for h in polar for i in h.words}
    model = [
        p for p in _model_phrases(t, entities or (), u) if not _opinion_only(t, p, polar_words, u)
    ]
    phrases = _merge(t, model, driver_hits, u)
    _assign_polar_words(t, phrases, polar, u.window)
    phrases = _join(t, phrases)
    phrases = _savings_to_promotions(t, phrases, driver_hits)

    decided: list[tuple[_Phrase, str, str]] = []
    for phrase in phrases:
        if phrase.source == MODEL and phrase.confidence < u.doubt_confidence and not phrase.inside:
            continue  # rule 5: a guess nothing in the words supports
        polarity, by = _polarity(phrase, u, context_polarity)
        if phrase.source == MODEL and by in (MODEL, "context"):
            if phrase.confidence < u.bare_confidence:
                continue  # rule 5: the model alone, on words that say nothing
        if polarity is not None:
            decided.append((phrase, polarity, by))

    # Rule 5: a bare mention is an opinion only when it is all the message says.
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
