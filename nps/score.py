"""Parse the answer to the NPS question ("0-10") from free Polish text.

    >>> parse_score("3, bo kurier zgubił paczkę")
    ScoreParse(status='ok', score=3, remainder='kurier zgubił paczkę', mark=None)

Standard library only: this module is shared by the bot and the analytics
environment (see docs/architecture.md).

How it works (the word tables are in ``nps/score_words.py``)
------------------------------------------------------------
1. **Fold** the text with ``nps.text.fold_char``: lowercase, strip
   diacritics (``ł`` -> ``l``), map emoji digits (``🔟``, ``8️⃣``) and
   dashes.  Every folded character remembers where it came from, so the
   remainder is cut from the *original* text.
2. **Tokenise** the folded text into numbers, words and punctuation.
3. **Find candidates**: digits, number words (``osiem``), grade nouns
   (``ósemka``), slang (``dycha``; ``max``/``full`` only when clearly a
   score), with their cues: ``8/10``, ``8 na 10``, ``8 pkt``, ``dałbym 8``,
   ``ocena: 8``, ``7,5``, ``7 i pół``.  A scale description (``w skali 0-10``,
   ``od 1 do 10``) is not a score.
4. **Drop quantities**: a number followed by a unit (``3 dni``, ``2 razy``,
   ``50 zł``, ``100%``), a time (``15:30``), an id (``nr 12``), a number
   word followed by a noun (``jedna paczka``, ``zero problemów``).
5. **Group alternatives**: ``7-8``, ``7 albo 8``, ``między 7 a 8``,
   ``8, może 9`` are one group with two values.
6. **Decide**: a 0-10 number wins over a school verdict; a score dated to
   now (``teraz 5``) over an earlier one; candidates with a cue (or at the
   start of the message) over numbers in the middle of a sentence.  One
   distinct value -> ``ok`` or ``out_of_range``; several values or a
   fraction -> ``ambiguous``; only a school verdict -> ``school_grade``;
   nothing -> ``none``.
7. **Remainder**: the text without the score expression, with joining words
   (``bo``, ``, -``) and score cues (``dałbym``, ``ocena:``) trimmed.

Decisions on hard cases (documented here and in the tests):

- A bare number followed by a unit word is a quantity, not a score:
  ``czekałem 2 tygodnie`` -> ``none``.  Same for ``100%`` / ``na 100%``
  (percent is not the 0-10 scale; the bot asks again).
- Two *different* scores both with a cue (``8, dałbym 9``, ``5 bo dałbym 10
  gdyby nie kurier``) are ``ambiguous``: the bot asks rather than guessing.
- A self-correction (``7, a właściwie 8``) is ``ambiguous`` for the same
  reason.
- ``max``/``full``/``maks`` count as 10 only after a score cue (``dałbym
  max``, ``na maxa``) or as a standalone answer (``max!``, ``full, polecam``);
  ``max 2 dni`` is not a score.
- Numbers with four or more digits (order ids, years, prices) are ignored
  unless they carry a cue or are the whole message (``1000`` ->
  ``out_of_range``).
- For ``none`` the remainder is the whole (stripped) text: nothing was
  removed.
- Only the first ``SCORE_WINDOW`` characters are searched for the score
  (an answer gives it early); the rest of a longer message is kept whole
  in the remainder. Every step is linear in the window, so a hostile
  200 KB message costs no more than a normal one.
- A number of any length is a number: ``"9" * 309`` or 5000 keycap
  digits are ``out_of_range`` (never an overflow), a long decimal
  (``"9" * 5000 + ",5"``) is not a score.

School grades (the Polish school scale runs 1-6: 6 "celujący" is the best,
1 "niedostateczny" a fail; issue 10).  A verdict on that scale is not a
point on 0-10: "wszystko na piątkę" means "very good", which a customer
would put at 8-10, and reading it as 5 made a happy customer a detractor.
Mapping it to a number instead (piątka -> 9?) would be our guess, stored as
the customer's score.  So a school verdict gives ``school_grade`` (with
``mark``, the school mark 1-6, when one was given) and the bot asks for the
number on 0-10, unless the message also has a 0-10 number, which wins
(``na piątkę z plusem, czyli 10`` -> 10).  What counts as a school verdict:

- a grade noun 1-6 after "na": ``na piątkę``, ``oceniam na szóstkę``,
  ``kurier na czwórkę``;
- a plus or minus after a mark 1-6: ``piątka z plusem``, ``5+``,
  ``trzy plus``, ``czwórka z minusem`` (on 0-10 it is not a whole number
  either way);
- a digit or number word 1-6 after "wszystko (było) na": ``wszystko na 5``;
- beside another school verdict, any "na 1-6" or grade noun 1-6: in
  ``obsługa na 5 z plusem, dostawa na 2`` the 2 is a school mark too;
- words that are only school marks, with their case forms: ``pała``,
  ``lufa``, ``gała``, ``kół`` (1), ``dwója`` (2), ``trója`` (3), ``czwóra``
  (4), and the formal names ``niedostateczny``, ``dopuszczający``,
  ``mierny``, ``dostateczny``, ``bdb``, ``celujący``.  A bad mark says
  "very bad", a good one "very good", but neither says which 0-10 number,
  so both are asked about alike.  These words have other senses ("mierna
  obsługa", "dwoje dzieci", "robią wszystko na pałę" = any old how), so
  they count only after a score cue or as the whole answer.

What stays a number: a bare grade noun or digit (``piątka``, ``dałbym
szóstkę``, ``5``, ``oceniam na 5``) is the answer to "0-10?" and keeps its
value (issue 10 asks for this); so does any of the above when the message
describes the 0-10 scale (``w skali 0-10 na piątkę`` -> 5).  A plus on 7-10
keeps the number (``8+`` -> 8, ``10+`` -> 10): not a school mark, and the
customer committed to at least that.  "bardzo dobry" / "dobry" are praise
words far more often than marks: not read as grades.  "koło 8" is "about 8".

Other hard cases (issue 10's gap hunt):

- ``nie 10``, ``nie dałbym 10``, ``nie do końca 10``: what the score is
  not.  Dropped when another number is given (``9, nie 10`` -> 9), else
  ``ambiguous``.  ``czemu nie 10`` agrees, so it is 10.
- ``prawie 10``, ``ponad 8``, ``więcej niż 8``, ``mniej niż 5`` are not
  the number itself: ``ambiguous``.  ``max 8``, ``najwyżej 8``, ``co
  najmniej 8`` keep the number the customer committed to.
- Another scale: ``5/5``, ``4 na 5``, ``3 z 5 gwiazdek``, ``80/100``, and
  ``5 gwiazdek`` as the answer are ``out_of_range`` (the bot says the
  scale is 0-10).  ``7/8`` stays two alternatives (``ambiguous``).
- ``1 z 5 paczek`` counts parcels: neither number is a score.
- ``10 dla kuriera, 5 dla sklepu``: scores of parts, ``ambiguous`` (one
  "N dla/za ..." alone, as in ``dałbym 10 dla was``, is the score).
- ``kiedyś 10, teraz 5`` -> 5: the score dated to now wins.
- ``10, ale 9`` / ``10, ale raczej 9``: a correction, ``ambiguous``.
- ``na 10 możliwych dałbym 7``: "na 10 możliwych" describes the scale.
- ``zero przecinek pięć`` is 0.5: ``ambiguous``.
- ``osiemka`` (a spelling of ósemka) and ``dziesiona`` (slang) are 8, 10.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from nps.score_words import (
    ALT_PUNCT,
    ALT_WORDS,
    ASPECT_LINKS,
    BLOCKERS_BEFORE,
    CUE_WORDS,
    CUES_BEFORE_SCORE,
    DENOMINATOR_LINKS,
    DENOMINATORS,
    FILLER_PHRASES,
    GRADE_SUFFIXES,
    GRADE_WORDS,
    JOINERS_AFTER_SCORE,
    JOINING_PHRASES,
    NEGATION_THROUGH,
    NOW_WORDS,
    NUMBER_WORDS,
    OTHER_SCALE_TOPS,
    POINT_WORDS,
    SCHOOL_NA_IDIOMS,
    SCHOOL_SIGN_WORDS,
    SCHOOL_SIGNS,
    SCHOOL_WHOLE,
    SCHOOL_WORDS,
    SHIFT_BEFORE_THAN,
    SHIFT_WORDS,
    SLANG_FOLLOWERS,
    SLANG_TEN,
    SOFT_WORDS,
    STAR_PREFIXES,
    START_FILLERS,
    TRAILING_FILLERS,
    UNIT_ADJECTIVES,
    UNIT_PREFIXES,
    UNIT_SYMBOLS,
    UNIT_WORDS,
    WORD_NUMBER_FOLLOWERS,
)
from nps.text import fold_char, squeeze

OK = "ok"
OUT_OF_RANGE = "out_of_range"
AMBIGUOUS = "ambiguous"
SCHOOL_GRADE = "school_grade"
NONE = "none"
STATUSES = (OK, OUT_OF_RANGE, AMBIGUOUS, SCHOOL_GRADE, NONE)

MIN_SCORE, MAX_SCORE = 0, 10
# The Polish school scale: 1 (fail) to 6 (excellent).
SCHOOL_MIN, SCHOOL_MAX = 1, 6

# Characters of a message searched for the score. A score comes early in an
# answer; the window keeps the parse bounded whatever a customer sends.
SCORE_WINDOW = 500
# Digits beyond this make a number "too big" without converting it: int()
# refuses more than 4300 digits and float() overflows past 308.
_MAX_NUMBER_DIGITS = 15


@dataclass(frozen=True)
class ScoreParse:
    status: str  # one of STATUSES
    score: int | None  # 0..10 when status == "ok", else None
    remainder: str  # text left after removing the score expression
    # The school mark 1-6 when status == "school_grade" and one mark was
    # given ("na piątkę" -> 5), else None: its polarity, never a score.
    mark: int | None = None


_NIE = frozenset({"nie"})
_WHY = frozenset({"czemu", "dlaczego", "czemuz"})
# What may stand between "teraz" and the score: "teraz to 5", "teraz: 5".
_NOW_THROUGH = CUE_WORDS | SOFT_WORDS | frozenset(":,-")

_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]+|[^\w\s]")


# ---------------------------------------------------------------------------
# Folding and tokenising
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Folded:
    text: str  # folded text
    starts: tuple[int, ...]  # original index where each folded char starts
    ends: tuple[int, ...]  # original index just after each folded char


def _fold(text: str) -> _Folded:
    """Fold the whole text, keeping a map back to the original positions."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for i, ch in enumerate(text):
        out = fold_char(ch)
        if not out:
            # A dropped mark (combining accent, emoji variation selector)
            # belongs to the previous character.
            if ends:
                ends[-1] = i + 1
            continue
        for c in out:
            chars.append(c)
            starts.append(i)
            ends.append(i + 1)
    return _Folded("".join(chars), tuple(starts), tuple(ends))


@dataclass(frozen=True)
class _Token:
    text: str  # folded
    kind: str  # "num" | "word" | "punct"
    start: int  # folded index
    end: int


def _tokenise(folded: str) -> list[_Token]:
    tokens = []
    for m in _TOKEN_RE.finditer(folded):
        t = m.group()
        kind = "num" if t[0].isdigit() else "word" if t[0].isalpha() else "punct"
        tokens.append(_Token(t, kind, m.start(), m.end()))
    return tokens


# ---------------------------------------------------------------------------
# Candidates
# ---------------------------------------------------------------------------


@dataclass
class _Candidate:
    first: int  # index of the first token of the expression
    last: int  # index just after its last token
    value: float
    kind: str  # "digit" | "word" | "grade" | "slang" | "school"
    strong: bool = False  # has a score cue, or opens the message
    quantity: bool = False  # a counted amount, not a score
    digits: int = 1  # number of digits (for ids / years)
    school: bool = False  # a verdict on the school scale 1-6, not a 0-10 score
    signed: bool = False  # a plus or minus follows ("5+", "z plusem")
    other_scale: bool = False  # "5/5", "4 na 5", "5 gwiazdek"
    shifted: bool = False  # "prawie 10", "więcej niż 8": not the number itself
    negated: bool = False  # "nie 10", "nie dałbym 10"
    now: bool = False  # "teraz 5": today's score, over an earlier one


class _Parser:
    """One parse of one message (kept as a class to share the token list)."""

    def __init__(self, text: str):
        self.text = text
        self.folded = _fold(text)
        self.tokens = _tokenise(self.folded.text)
        self.scale_ranges: list[tuple[int, int]] = []
        # Token i lies in a scale description: one flag per token, so the
        # check is O(1) (a scan of every range per token was quadratic).
        self.in_scale_flags = [False] * len(self.tokens)
        self.first_content = self._first_content()

    # -- small token helpers ------------------------------------------------

    def tok(self, i: int) -> _Token | None:
        return self.tokens[i] if 0 <= i < len(self.tokens) else None

    def word(self, i: int) -> str:
        t = self.tok(i)
        return t.text if t else ""

    def glued(self, i: int) -> bool:
        """True when token i follows token i-1 with no space between."""
        return i > 0 and self.tokens[i - 1].end == self.tokens[i].start

    def is_number_at(self, i: int) -> bool:
        t = self.tok(i)
        return bool(t) and (t.kind == "num" or t.text in NUMBER_WORDS)

    def number_value(self, i: int) -> float | None:
        t = self.tok(i)
        if t is None:
            return None
        if t.kind == "num":
            return _number(t.text)
        return NUMBER_WORDS.get(t.text)

    # -- scale descriptions ("w skali 0-10") --------------------------------

    def find_scales(self) -> None:
        """Mark "(od) 0/1 -|do 10", "w skali (do) 10", "na 10 możliwych": not scores."""
        n = len(self.tokens)
        i = 0
        while i < n:
            if (
                self.word(i) in ("na", "z")
                and self.word(i + 1) in DENOMINATORS
                and self.word(i + 2).startswith("mozliw")
            ):
                self._mark_scale(i, i + 3)
                i += 3
                continue
            j = i + 1 if self.word(i) == "od" else i
            low = self.number_value(j)
            if (
                low in (0, 1)
                and self.word(j + 1) in ("-", "do")
                and self.word(j + 2) in DENOMINATORS
            ):
                self._mark_scale(i, j + 3)
                i = j + 3
                continue
            if self.word(i).startswith("skal"):
                k = i + 1
                if self.word(k) == "do":
                    k += 1
                if self.word(k) in DENOMINATORS:
                    self._mark_scale(i, k + 1)
                    i = k + 1
                    continue
            i += 1

    def _mark_scale(self, a: int, b: int) -> None:
        self.scale_ranges.append((a, b))
        for k in range(a, min(b, len(self.tokens))):
            self.in_scale_flags[k] = True

    def in_scale(self, i: int) -> bool:
        return self.in_scale_flags[i]

    # -- finding candidates ---------------------------------------------------

    def candidates(self) -> list[_Candidate]:
        self.find_scales()
        found: list[_Candidate] = []
        i = 0
        while i < len(self.tokens):
            cand = None if self.in_scale(i) else self.read_candidate(i)
            if cand is None:
                i += 1
                continue
            found.append(cand)
            i = cand.last
        return found

    def read_candidate(self, i: int) -> _Candidate | None:
        """Read a score expression starting at token i, if there is one."""
        t = self.tokens[i]
        if t.kind == "num":
            return self.read_digits(i)
        if t.kind == "punct" and t.text == "-":
            return self.read_negative(i)
        if t.kind != "word":
            return None
        if t.text == "minus" and self.is_number_at(i + 1):
            cand = self.read_candidate(i + 1)
            if cand is not None:
                cand.first, cand.value = i, -cand.value
            return cand
        if t.text in NUMBER_WORDS:
            cand = _Candidate(i, i + 1, NUMBER_WORDS[t.text], "word")
            return self.read_tail(cand)
        if t.text in GRADE_WORDS:
            if self.word(i - 1) == "za":  # "za dyszkę" = for ten zloty
                return None
            cand = _Candidate(i, i + 1, GRADE_WORDS[t.text], "grade", strong=True)
            return self.read_tail(cand)
        if squeeze(t.text) in SLANG_TEN or t.text in SLANG_TEN:
            return self.read_slang(i)
        if t.text in SCHOOL_WORDS:
            return self.read_school_word(i)
        return None

    def read_digits(self, i: int) -> _Candidate | None:
        t = self.tokens[i]
        # Glued to a word ("mp3", "iphone13"), or part of a time ("15:30").
        if i > 0 and self.glued(i) and self.tokens[i - 1].kind == "word":
            return None
        if (
            self.word(i + 1) == ":"
            and self.glued(i + 1)
            and self.tok(i + 2)
            and self.tokens[i + 2].kind == "num"
            and self.glued(i + 2)
        ):
            return None
        if (
            self.word(i - 1) == ":"
            and self.glued(i)
            and self.glued(i - 1)
            and self.tok(i - 2)
            and self.tokens[i - 2].kind == "num"
        ):
            return None
        if "." in t.text or "," in t.text:
            whole, frac = re.split(r"[.,]", t.text)
            # "12.05" (a date) or "49,99" (a price) are not scores.
            if len(whole) > 2 or int(whole) > MAX_SCORE or len(frac) > 2:
                return None
        value = _number(t.text)
        digits = len(t.text.split(".")[0].split(",")[0])
        cand = _Candidate(i, i + 1, value, "digit", digits=digits)
        # "8ka", "10tka": a grade noun written with digits.
        nxt = self.tok(i + 1)
        if nxt and nxt.kind == "word" and self.glued(i + 1) and nxt.text in GRADE_SUFFIXES:
            cand.last, cand.kind, cand.strong = i + 2, "grade", True
        elif nxt and nxt.text == "-" and self.glued(i + 1) and self.word(i + 2) in GRADE_SUFFIXES:
            cand.last, cand.kind, cand.strong = i + 3, "grade", True
        return self.read_tail(cand)

    def read_negative(self, i: int) -> _Candidate | None:
        """ "-1" is a negative number only when the dash starts a word."""
        nxt = self.tok(i + 1)
        if not nxt or nxt.kind != "num" or not self.glued(i + 1):
            return None
        if i > 0 and self.glued(i):
            return None
        if i > 0 and self.is_number_at(i - 1):  # "10 -1": a range, not -1
            return None
        cand = self.read_digits(i + 1)
        if cand is not None:
            cand.first, cand.value = i, -cand.value
        return cand

    def read_slang(self, i: int) -> _Candidate | None:
        """'max' / 'full' = 10, but only when clearly the answer."""
        cand = _Candidate(i, i + 1, 10, "slang")
        if self.has_cue_before(i):
            cand.strong = True
            return cand
        opens = self.only_fillers_before(i)
        nxt = self.tok(i + 1)
        ends = (
            nxt is None
            or nxt.kind == "punct"
            or nxt.text in JOINERS_AFTER_SCORE
            or nxt.text in SLANG_FOLLOWERS
        )
        if opens and ends and not self.is_number_at(i + 1):
            cand.strong = True
            return cand
        return None

    def read_school_word(self, i: int) -> _Candidate | None:
        """'pała', 'dwója', 'celujący': a school mark when clearly the answer."""
        word = self.tokens[i].text
        cand = _Candidate(i, i + 1, SCHOOL_WORDS[word], "school", strong=True, school=True)
        cand = self.read_tail(cand)  # "pała z plusem"
        if self.word(i - 1) == "na" and word in SCHOOL_NA_IDIOMS:
            # "robią wszystko na pałę" is "any old how"; "zasługujecie na pałę" a mark.
            return cand if self.has_cue_before(i - 1) else None
        if self.has_cue_before(i):
            return cand
        # These words have other senses ("mierna obsługa", "dwoje dzieci"):
        # opening the message they are a mark only when nothing follows.
        nxt = self.tok(cand.last)
        ends = (
            nxt is None
            or nxt.kind == "punct"
            or nxt.text in TRAILING_FILLERS
            or nxt.text in SLANG_FOLLOWERS
        )
        return cand if self.only_fillers_before(i) and ends else None

    def read_tail(self, cand: _Candidate) -> _Candidate:
        """Extend a number with what follows: '/10', 'na 10', 'pkt', 'i pół'."""
        for _ in range(3):
            j = cand.last
            w1, w2 = self.word(j), self.word(j + 1)
            if w1 in DENOMINATOR_LINKS and w2 in DENOMINATORS:
                cand.last, cand.strong = j + 2, True
                continue
            top = self.other_scale_top(j)
            if top:
                cand.last, cand.strong, cand.other_scale = j + top, True, True
                continue
            if w1.startswith(STAR_PREFIXES) and self.other_scale_top(j + 1) == 2:
                # "5 gwiazdek na 5"
                cand.last, cand.strong, cand.other_scale = j + 3, True, True
                continue
            if w1 in POINT_WORDS:
                cand.last, cand.strong = j + 1, True
                continue
            if w1 == "i" and w2 in ("pol", "polowa"):
                cand.last, cand.value = j + 2, cand.value + 0.5
                continue
            if w1 == "przecinek" and self.is_number_at(j + 1):  # "zero przecinek pięć"
                # Only "is there a fraction" matters: any one is ambiguous.
                fraction = 0.5 if self.number_value(j + 1) else 0
                cand.last, cand.value = j + 2, cand.value + fraction
                continue
            if w1 == "+" and self.glued(j):  # "10+", "5+"
                cand.last, cand.signed = j + 1, True
                continue
            if w1 == "z" and w2 in SCHOOL_SIGN_WORDS:  # "piątka z plusem"
                cand.last, cand.signed = j + 2, True
                continue
            if w1 in SCHOOL_SIGNS and not self.is_number_at(j + 1):  # "trzy plus"
                cand.last, cand.signed = j + 1, True
                continue
            break
        self.mark_school(cand)
        return cand

    def other_scale_top(self, j: int) -> int:
        """Tokens of '/5', 'na 5', 'z 5 gwiazdek', '/100' at token j (0: none).

        "2 na 5 dni" or "8 na 100%" count days and certainty, not a scale.
        """
        if self.word(j) not in DENOMINATOR_LINKS or self.word(j + 1) not in OTHER_SCALE_TOPS:
            return 0
        if self.word(j + 2).startswith(STAR_PREFIXES):
            return 3
        return 0 if self.unit_after(j + 2) else 2

    def school_context(self, cand: _Candidate) -> bool:
        """A mark 1-6 that reads as school beside another school verdict."""
        return (
            SCHOOL_MIN <= cand.value <= SCHOOL_MAX
            and cand.value == int(cand.value)
            and (cand.kind == "grade" or self.word(cand.first - 1) == "na")
        )

    def mark_school(self, cand: _Candidate) -> None:
        """A number 1-6 said as a school verdict: 'na piątkę', '5+', 'wszystko na 5'."""
        if cand.kind == "school":
            return
        if not SCHOOL_MIN <= cand.value <= SCHOOL_MAX or cand.value != int(cand.value):
            return
        if cand.signed:
            cand.school = True
        elif self.word(cand.first - 1) == "na":
            # A grade noun after "na" is the idiom; a digit only after
            # "wszystko (było) na": "oceniam na 5" is a plain 5.
            before = {self.word(cand.first - 2), self.word(cand.first - 3)}
            cand.school = cand.kind == "grade" or bool(before & SCHOOL_WHOLE)

    # -- context around a candidate -----------------------------------------

    def has_cue_before(self, i: int) -> bool:
        """A score cue within the few words before token i ('dałbym tak z 8')."""
        j, steps = i - 1, 0
        while j >= 0 and steps < 5:
            t = self.tokens[j]
            if t.kind == "word" and t.text in CUE_WORDS:
                return True
            if t.kind == "punct" and t.text in {":", "=", "-", ","}:
                j, steps = j - 1, steps + 1
                continue
            if t.kind == "word" and t.text in SOFT_WORDS:
                j, steps = j - 1, steps + 1
                continue
            return False
        return False

    def only_fillers_before(self, i: int) -> bool:
        """Token i opens the message (only fillers and punctuation before)."""
        return i <= self.first_content

    def _first_content(self) -> int:
        """Index of the first token that is not a filler or punctuation."""
        for i, t in enumerate(self.tokens):
            if t.kind == "num":
                return i
            if (
                t.kind == "word"
                and t.text not in START_FILLERS
                and squeeze(t.text) not in START_FILLERS
            ):
                return i
        return len(self.tokens)

    def unit_after(self, j: int) -> bool:
        """Token j (right after a number) is a unit: 'dni', 'zł', '%'."""
        t = self.tok(j)
        if t is None:
            return False
        if t.text in UNIT_SYMBOLS:
            return True
        if t.kind != "word":
            return False
        if t.text in UNIT_ADJECTIVES:
            return self.unit_after(j + 1)
        if t.text == "raz":  # "1 raz" is once; "raz 5, raz 9" is not a unit
            return self.number_value(j - 1) == 1
        return t.text in UNIT_WORDS or t.text.startswith(UNIT_PREFIXES)

    def mark_quantity(self, cand: _Candidate) -> None:
        """Decide whether a candidate is a counted amount, not a score."""
        if cand.kind in ("grade", "slang", "school"):
            return
        if cand.strong and self.word(cand.last).startswith(STAR_PREFIXES):
            # "5 gwiazdek" as the answer is a 5-star rating, not a count.
            cand.last, cand.other_scale = cand.last + 1, True
            return
        if self.unit_after(cand.last):
            cand.quantity = True
        elif (
            self.word(cand.last) in DENOMINATOR_LINKS
            and self.is_number_at(cand.last + 1)
            and self.word(cand.last + 2).isalpha()  # "8 na 100%" is not counted
            and self.unit_after(cand.last + 2)
        ):
            cand.quantity = True  # "1 z 5 paczek": counted, like the 5
        elif self.word(cand.first - 1) in BLOCKERS_BEFORE:
            cand.quantity = True
        elif cand.kind == "word" and not self.has_cue_before(cand.first):
            # "jedna paczka", "zero problemów", "dwa tygodnie": a number word
            # directly followed by another word is counting something.
            nxt = self.tok(cand.last)
            if nxt is not None and nxt.kind == "word" and nxt.text not in WORD_NUMBER_FOLLOWERS:
                cand.quantity = True

    def walk_back(self, i: int, targets: frozenset[str], through: frozenset[str]) -> int:
        """Index of a word of `targets` reached from token i going back over
        words of `through` (a few steps at most), or -1."""
        j = i - 1
        while j >= 0 and j >= i - 5:
            t = self.tokens[j]
            if t.text in targets:
                return j
            if t.text not in through:
                return -1
            j -= 1
        return -1

    def mark_context(self, cand: _Candidate) -> None:
        """Words before a number that change what it says."""
        before = self.word(cand.first - 1)
        if before in SHIFT_WORDS:  # "prawie 10"
            cand.first, cand.shifted = cand.first - 1, True
        elif before == "niz" and self.word(cand.first - 2) in SHIFT_BEFORE_THAN:
            cand.first, cand.shifted = cand.first - 2, True  # "więcej niż 8"
        nie = self.walk_back(cand.first, _NIE, CUE_WORDS | NEGATION_THROUGH)
        # "nie dałbym 10": the customer says what it is not ("czemu nie 10" agrees).
        if nie >= 0 and self.word(nie - 1) not in _WHY:
            cand.first, cand.negated = nie, True
        cand.now = self.walk_back(cand.first, NOW_WORDS, _NOW_THROUGH) >= 0

    def mark_strength(self, cand: _Candidate) -> None:
        if self.has_cue_before(cand.first) or self.only_fillers_before(cand.first):
            cand.strong = True
        if len(self.tokens) == cand.last - cand.first:  # the whole message
            cand.strong = True

    # -- alternatives ("7 albo 8", "7-8", "między 7 a 8") ---------------------

    def between(self, a: _Candidate, b: _Candidate) -> list[str]:
        return [t.text for t in self.tokens[a.last : b.first]]

    def alternatives(self, a: _Candidate, b: _Candidate) -> bool:
        """Are two neighbouring candidates offered as alternatives?"""
        words = self.between(a, b)
        if not words:
            return True  # "7 8"
        return all(w in ALT_WORDS or w in ALT_PUNCT for w in words)

    def is_range(self, a: _Candidate, b: _Candidate) -> bool:
        """An ascending range written as 'a-b' / 'a do b' / 'a albo b'."""
        return a.value < b.value and self.between(a, b) in (
            ["-"],
            ["do"],
            ["albo"],
            ["lub"],
            ["czy"],
            [","],
            ["/"],
        )


# ---------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------


def _group(parser: _Parser, cands: list[_Candidate]) -> list[list[_Candidate]]:
    """Join neighbouring candidates that are alternatives into groups."""
    groups: list[list[_Candidate]] = []
    for cand in cands:
        if groups and parser.alternatives(groups[-1][-1], cand):
            groups[-1].append(cand)
        else:
            groups.append([cand])
    return groups


def _filter(parser: _Parser, cands: list[_Candidate]) -> list[_Candidate]:
    """Mark strength and quantities; keep what may be a score."""
    for cand in cands:
        parser.mark_strength(cand)
        parser.mark_quantity(cand)
        parser.mark_context(cand)
    # "2-3 dni": the unit after the range covers its first number too.
    for a, b in reversed(list(zip(cands, cands[1:], strict=False))):
        if b.quantity and not a.quantity and a.kind in ("digit", "word") and parser.is_range(a, b):
            a.quantity = True
    kept = [c for c in cands if not c.quantity]
    # Long numbers (ids, years, prices) only when they carry a cue.
    return [c for c in kept if c.digits < 4 or c.strong]


def _number(text: str) -> float:
    """A digit token's value; a number too long to matter is infinite."""
    whole = text.split(".")[0].split(",")[0].lstrip("0")
    if len(whole) > _MAX_NUMBER_DIGITS:
        return math.inf
    return float(text.replace(",", "."))


def _value(cand: _Candidate) -> float:
    """What a candidate says on the 0-10 scale, for the decision."""
    if cand.other_scale:
        return math.inf  # "5/5": a number of another scale, so outside this one
    if cand.shifted:
        return cand.value + 0.5  # "prawie 10": not a whole point of the scale
    return cand.value


def _decide(values: set[float]) -> tuple[str, int | None]:
    if not values:
        return NONE, None
    if len(values) > 1:
        return AMBIGUOUS, None
    (value,) = values
    if not math.isfinite(value):
        return OUT_OF_RANGE, None  # "9" * 309: a number, far outside the scale
    if value != int(value):
        return AMBIGUOUS, None  # "7,5", "7 i pół"
    if MIN_SCORE <= value <= MAX_SCORE:
        return OK, int(value)
    return OUT_OF_RANGE, None


# ---------------------------------------------------------------------------
# Remainder
# ---------------------------------------------------------------------------


def _strip_edge(
    words: list[str], lo: int, hi: int, vocab: frozenset[str], left: bool
) -> tuple[int, int]:
    """Drop filler words and punctuation from one edge of words[lo:hi]."""
    while lo < hi:
        for phrase in FILLER_PHRASES + JOINING_PHRASES:
            k = len(phrase)
            if hi - lo < k or tuple(words[lo : lo + k] if left else words[hi - k : hi]) != phrase:
                continue
            # A filler phrase goes only when it stands alone: "2, nie wiem,
            # chyba ceny" drops it, "2, nie wiem gdzie jest paczka" keeps it.
            beyond = lo + k if left else hi - k - 1
            alone = beyond in (hi, lo - 1) or not words[beyond][0].isalnum()
            if phrase in JOINING_PHRASES or alone:
                lo, hi = (lo + k, hi) if left else (lo, hi - k)
                break
        else:
            w = words[lo] if left else words[hi - 1]
            if not (w in vocab or squeeze(w) in vocab or not w[0].isalnum()):
                return lo, hi
            lo, hi = (lo + 1, hi) if left else (lo, hi - 1)
    return lo, hi


def _remainder(parser: _Parser, removed: list[tuple[int, int]]) -> str:
    """The original text without the removed token ranges, tidied up."""
    tokens = parser.tokens
    removed = sorted(removed)
    # Runs of kept tokens between removed ranges.
    runs: list[tuple[int, int, bool, bool]] = []  # (lo, hi, after_score, before_score)
    pos = 0
    for a, b in removed:
        if a > pos:
            runs.append((pos, a, pos > 0, True))
        pos = max(pos, b)
    if pos < len(tokens):
        runs.append((pos, len(tokens), pos > 0, False))

    words = [t.text for t in tokens]
    pieces = []
    for lo, hi, after_score, before_score in runs:
        lo, hi = _strip_edge(
            words, lo, hi, JOINERS_AFTER_SCORE if after_score else frozenset(), True
        )
        if before_score:
            lo, hi = _strip_edge(words, lo, hi, CUES_BEFORE_SCORE, False)
        if after_score and before_score:
            lo, hi = _strip_edge(words, lo, hi, JOINERS_AFTER_SCORE, True)
        if all(w in TRAILING_FILLERS or not w[0].isalnum() for w in words[lo:hi]):
            continue
        start = parser.folded.starts[tokens[lo].start]
        end = parser.folded.ends[tokens[hi - 1].end - 1]
        piece = parser.text[start:end].strip()
        if any(ch.isalnum() for ch in piece):
            pieces.append(piece)
    return ", ".join(pieces)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def _window(text: str) -> tuple[str, str]:
    """The message split into the part searched for a score and the rest.

    The cut falls on the last whitespace of the window's second half, so a
    word or number is not split in normal text; a run with no space is cut
    at the window (a cut number is still far outside the scale).
    """
    if len(text) <= SCORE_WINDOW:
        return text, ""
    cut = text.rfind(" ", SCORE_WINDOW // 2, SCORE_WINDOW)
    if cut <= 0:
        cut = SCORE_WINDOW
    return text[:cut], text[cut:]


def parse_score(text: str) -> ScoreParse:
    """Find the 0-10 recommendation score in a customer's message."""
    text = text or ""
    head, rest = _window(text)
    parsed = _parse(head)
    rest = rest.strip()
    if not rest:
        return parsed
    if parsed.status == NONE:
        return ScoreParse(NONE, None, text.strip())
    remainder = f"{parsed.remainder} {rest}" if parsed.remainder else rest
    return ScoreParse(parsed.status, parsed.score, remainder)


def _parse(text: str) -> ScoreParse:
    parser = _Parser(text)
    cands = _filter(parser, parser.candidates())
    if parser.scale_ranges:  # "w skali 0-10 na piątkę": the customer speaks 0-10
        for c in cands:
            c.school = c.school and c.kind == "school"
    elif any(c.school for c in cands):
        # The customer speaks school marks: "obsługa na 5 z plusem, dostawa
        # na 2" rates delivery a 2 of 6, not of 10.
        for c in cands:
            c.school = c.school or parser.school_context(c)
    # "10 dla kuriera, 5 dla sklepu": scores of parts, none above the others.
    aspects = [c for c in cands if parser.word(c.last) in ASPECT_LINKS]
    if len({c.value for c in aspects}) > 1:
        for c in aspects:
            c.strong = True
    # "nie 10": what the score is not; dropped, unless it is all there is.
    negated = [c for c in cands if c.negated]
    groups = _group(parser, [c for c in cands if not c.negated])
    for group in groups:
        if any(c.school for c in group):
            # "piątka z plusem albo szóstka": the grade nouns beside a school
            # mark are school marks too.
            for c in group:
                c.school = c.school or (c.kind == "grade" and SCHOOL_MIN <= c.value <= SCHOOL_MAX)
        if any(c.strong for c in group):
            for c in group:
                c.strong = True
    # A 0-10 number wins over a school verdict ("na piątkę z plusem, czyli 10").
    school = [c for g in groups for c in g if c.school]
    groups = [g for g in ([c for c in g if not c.school] for g in groups) if g]
    mark = None
    if groups:
        # Today's score over an earlier one ("kiedyś 10, teraz 5"), then
        # candidates with a cue (or at the start) over numbers in passing.
        chosen = (
            [g for g in groups if any(c.now for c in g)]
            or [g for g in groups if g[0].strong]
            or groups
        )
        status, score = _decide({_value(c) for g in chosen for c in g})
        removed = [(c.first, c.last) for g in chosen for c in g]
        if status == OK:  # a repeated score ("8, tak 8") goes too
            removed += [(c.first, c.last) for g in groups for c in g if _value(c) == score]
    elif school:
        status, score = SCHOOL_GRADE, None
        marks = {int(c.value) for c in school}
        mark = marks.pop() if len(marks) == 1 else None
        removed = [(c.first, c.last) for c in school]
    elif negated:
        status, score, removed = AMBIGUOUS, None, []
    else:
        return ScoreParse(NONE, None, text.strip())
    removed += [(c.first, c.last) for c in negated] + parser.scale_ranges
    return ScoreParse(status, score, _remainder(parser, removed), mark)
