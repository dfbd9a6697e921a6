"""Judging each answer to a "why?": probe again, or is it enough?

Vendors that probe stop when an answer is good enough; the "5 whys" stay
the ceiling, reached only while each answer is still vague. After every
why-answer the survey form asks ``judge`` what the answer was, then
``step`` what to do with it. Pure: no Rasa, usable from both environments.

The rules, on the folded words of the answer (``nps.text.words``):

- **content words** are the words left after removing function words,
  filler ("chyba", "jakoś", "w sumie"), yes/no words ("tak", "ok", "no") and
  the words of answering a contact question ("można dzwonić"). A message
  with none, such as "tak", "ok", an emoji or "tak, można dzwonić", answers
  no "why?": it is EMPTY.
- DONE: the customer has nothing more: "nie wiem", "to wszystko", a refusal
  ("nie chcę mówić", "nie powiem"), a bare "nie" / "nic", or an intent the
  NLU read as "done", with no content word besides. "nie wiem, chyba mają
  za mało ludzi" is not done: it goes on to be judged by its content.
  An answer with the same content words as an earlier answer (the reason
  or a why-answer, in any order) is a REPEAT, which also ends the chain.
- KNOWN_ISSUE: the answer matched a known issue (the caller matched it).
- SPECIFIC: the answer names a driver (its tags are not empty) and
  something concrete: at least ``CONCRETE_WORDS`` content words, or a
  digit, or a number or time word ("dwa", "tydzień", "wczoraj").
- VAGUE: anything else with content: asked again, with the next kind of
  question.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nps import why_stops
from nps.text import words

# What an answer was.
EMPTY = "empty"
DONE = "done"
REPEAT = "repeat"
KNOWN_ISSUE = "known_issue"
SPECIFIC = "specific"
VAGUE = "vague"

# A driver named with this many content words is concrete enough
# ("kurier zgubił paczkę"; "kurier był niemiły" is not, so it is probed).
CONCRETE_WORDS = 3

# Function words and filler: they carry no cause of their own.
_FUNCTION_WORDS = frozenset(
    """
    a i o u w z we ze na do od po przy za przez dla bez pod nad przed miedzy
    oraz lub albo czy bo ze zeby by aby jak jako ale lecz wiec czyli niz
    to ten ta te tego tej tym tymi tu tam tutaj teraz wtedy
    tez takze juz jeszcze tylko nawet wlasnie prawie
    sie jest sa byl byla bylo byly byli bede bedzie beda byc
    ma maja mam mamy macie mial miala mialo mieli mialy
    moj moja moje mojego mojej moim moich mnie mi mna ja ty ciebie cie tobie
    on ona ono oni one nas nam wy was wam ich im jego jej go mu niego niej
    my swoj swoja swoje swojego
    co kto gdzie kiedy dlaczego czemu jaki jaka jakie jakis jakas jakies
    ktory ktora ktore ktorzy ktorego
    cos ktos nic nikt nikogo niczego wszystko wszyscy caly cala cale
    """.split()
)
_FILLER = frozenset(
    """
    no ee eee yyy hmm hm mhm aha ach oj ojej
    chyba moze raczej bardzo troche strasznie mocno dosc calkiem totalnie
    prostu sumie ogolnie generalnie jakos jakby niby znaczy wiesz wlasciwie
    naprawde serio po prostu
    tak nie ok okej okey okay oki jasne pewnie oczywiscie owszem naturalnie dobrze
    dobra spoko super git zgoda zgadzam chetnie dzieki dziekuje prosze poprosze
    niestety
    mozna mozecie moge mozesz dzwonic zadzwonic dzwoncie zadzwoncie
    kontakt kontaktu kontaktowac skontaktowac skontaktujcie kontaktujcie
    piszcie napiszcie pisac napisac
    wiem wiedziec
    """.split()
)
NOT_CONTENT = _FUNCTION_WORDS | _FILLER

# Word sequences that say "nothing (more)": doubt, a refusal, the end.
_DONE_PHRASES = tuple(
    tuple(p.split())
    for p in (
        "nie wiem",
        "sam nie wiem",
        "sama nie wiem",
        "nie mam pojecia",
        "nie mam zdania",
        "nie pamietam",
        "trudno powiedziec",
        "ciezko powiedziec",
        "to wszystko",
        "to tyle",
        "nic wiecej",
        "nic do dodania",
        "nie mam nic do dodania",
        "wystarczy",
        "nie chce mowic",
        "nie chce o tym mowic",
        "nie chce o tym rozmawiac",
        "nie chce rozmawiac",
        "wole nie mowic",
        "nie powiem",
        "bez komentarza",
        "nie twoja sprawa",
    )
)
# A whole answer of only these (and filler) declines to go on: "nie", "nic".
_DECLINING = frozenset({"nie", "nic", "niestety", "nope"})

# Numbers and times make an answer concrete ("dwa tygodnie", "wczoraj").
_NUMBER_OR_TIME = frozenset(
    """
    jeden jedna jedno dwa dwie dwoch trzy trzech cztery czterech piec pieciu
    szesc siedem osiem dziewiec dziesiec kilka kilku kilkanascie kilkadziesiat
    pol poltora sto tysiac
    raz razy dwukrotnie trzykrotnie
    dzien dnia dni dniu tydzien tygodnia tygodnie tygodni tygodniu
    miesiac miesiaca miesiace miesiecy rok roku lata lat
    godzina godzine godziny godzin godzinie minuta minute minuty minut sekund
    wczoraj dzisiaj dzis przedwczoraj jutro rano wieczorem wieczor noca nocy poludnie
    poniedzialek wtorek sroda srode czwartek piatek sobota sobote niedziela niedziele
    weekend weekendzie swieta swiat swietami
    """.split()
)


def _drop_done_phrases(folded: list[str]) -> tuple[list[str], bool]:
    """The words without the phrases of doubt or refusal, and whether one was there."""
    out: list[str] = []
    found = False
    i = 0
    while i < len(folded):
        for phrase in _DONE_PHRASES:
            if tuple(folded[i : i + len(phrase)]) == phrase:
                found = True
                i += len(phrase)
                break
        else:
            out.append(folded[i])
            i += 1
    return out, found


def content_words(text: str) -> list[str]:
    """The words of an answer that can say what happened (see the module's rules)."""
    rest, _ = _drop_done_phrases(words(text))
    return [w for w in rest if w not in NOT_CONTENT]


def is_concrete(content: Sequence[str]) -> bool:
    """Names a concrete object or event: enough content words, a digit, a number or time."""
    return (
        len(content) >= CONCRETE_WORDS
        or any(any(ch.isdigit() for ch in w) for w in content)
        or any(w in _NUMBER_OR_TIME for w in content)
    )


def judge(
    text: str,
    tags: Sequence[str],
    earlier: Iterable[str] = (),
    known_issue: bool = False,
    nlu_says_done: bool = False,
) -> str:
    """What this why-answer was: EMPTY, DONE, REPEAT, KNOWN_ISSUE, SPECIFIC or VAGUE.

    ``tags`` are the driver tags found in this answer only, ``earlier`` the
    answers already given (the reason, the why-chain), ``known_issue`` whether
    this answer matched one, ``nlu_says_done`` whether the NLU read it as
    "that's all".
    """
    folded = words(text)
    rest, said_done = _drop_done_phrases(folded)
    content = [w for w in rest if w not in NOT_CONTENT]
    if not content:
        declined = bool(rest) and all(w in _DECLINING or w in NOT_CONTENT for w in rest)
        declined = declined and any(w in _DECLINING for w in rest)
        if said_done or declined or nlu_says_done:
            return DONE
        return EMPTY
    if any(set(content) == set(content_words(e)) for e in earlier if e):
        return REPEAT
    if known_issue:
        return KNOWN_ISSUE
    if tags and is_concrete(content):
        return SPECIFIC
    return VAGUE


@dataclass(frozen=True)
class Step:
    """What the survey form does with a judged why-answer."""

    store: bool  # the answer joins why_chain
    stop: str | None  # the why_stop value when the chain ends here, else None
    clarify: bool = False  # ask for a few words instead of the next "why?"


def step(
    verdict: str, stored: int, max_whys: int, empty_in_a_row: int, max_clarifications: int
) -> Step:
    """The next step after ``verdict``.

    ``stored`` is the number of answers in why_chain before this one,
    ``empty_in_a_row`` the number of answers without content just before
    this one; ``max_clarifications`` empty answers in a row end the chain
    (the default, 2, clarifies once).
    """
    if verdict == EMPTY:
        if empty_in_a_row + 1 >= max_clarifications:
            return Step(store=False, stop=why_stops.VAGUE_LIMIT)
        return Step(store=False, stop=None, clarify=True)
    if verdict in (DONE, REPEAT):
        return Step(store=False, stop=why_stops.DONE)
    if verdict == KNOWN_ISSUE:
        return Step(store=True, stop=why_stops.KNOWN_ISSUE)
    if verdict == SPECIFIC:
        return Step(store=True, stop=why_stops.SPECIFIC)
    if stored + 1 >= max_whys:
        return Step(store=True, stop=why_stops.LIMIT)
    return Step(store=True, stop=None)
