"""The conversations the REST load benchmark sends (bench/rest_load.py).

Whole surveys as customers write them, one shape per branch of nps/flow.py
(promoter, passive probed on a complaint, detractor probed with whys, known
issue fixed or not, an interruption, leaving mid-survey). Each is built from
small pools so that not every customer sends the same text: identical texts
would let any cache make the numbers look better than real traffic.
"""

from __future__ import annotations

import random
from collections.abc import Callable

GREETINGS = ["cześć", "dzień dobry", "hej", "witam", "dzien dobry", "siema"]
PROMOTER_SCORES = ["10", "9", "dałbym 10", "9/10", "dziesięć"]
PASSIVE_SCORES = ["7", "8", "8/10", "dałabym 7"]
DETRACTOR_SCORES = ["2", "3", "4", "1", "zero", "dałbym 3"]
PRAISE = [
    "bardzo miła obsługa w sklepie",
    "szybka dostawa i dobre ceny",
    "świetny wybór i zawsze czysto",
    "aplikacja wygodna, paczka przyszła na drugi dzień",
    "produkty super jakości",
]
VALUED = [
    "szybka dostawa do paczkomatu",
    "miłych sprzedawców",
    "że zwrot jest bez problemu",
    "promocje w aplikacji",
]
MIXED = [
    "miła obsługa, ale ceny za wysokie",
    "szybka dostawa ale produkt słabej jakości",
    "dobre promocje ale ciągle brakuje towaru",
    "sklep ładny ale kolejki do kasy ogromne",
]
COMPLAINTS = [
    "za drogo",
    "kurier się spóźnił dwa dni",
    "reklamacja odrzucona bez powodu",
    "w sklepie brudno i pracownicy niemili",
    "na infolinii nikt nie odbiera",
]
WHYS = [
    "bo w innych sklepach jest taniej",
    "nikt mnie nie poinformował",
    "chyba macie za mało ludzi",
    "bo to już drugi raz",
    "nie mam pojęcia, po prostu tak było",
]
IMPROVEMENTS = ["niższe ceny", "szybsza dostawa", "więcej kas otwartych", "lepsza aplikacja"]
DONE = ["to wszystko", "nie wiem", "nic więcej"]
YES = ["tak", "tak, pomogło", "jasne"]
NO = ["nie", "nie, dziękuję", "raczej nie"]


Shape = Callable[[random.Random], list[str]]


def _promoter(rng: random.Random) -> list[str]:
    """Score, reason, what they value most."""
    return [
        rng.choice(GREETINGS),
        rng.choice(PROMOTER_SCORES),
        rng.choice(PRAISE),
        rng.choice(VALUED),
    ]


def _passive_with_a_complaint(rng: random.Random) -> list[str]:
    """One why, then done, then what would make it a 10."""
    c = rng.choice
    return [c(GREETINGS), c(PASSIVE_SCORES), c(MIXED), c(WHYS), c(DONE), c(IMPROVEMENTS)]


def _detractor_with_whys(rng: random.Random) -> list[str]:
    """Probed with whys, then asked for contact consent."""
    c = rng.choice
    return [
        c(GREETINGS),
        c(DETRACTOR_SCORES),
        c(COMPLAINTS),
        *rng.sample(WHYS, 2),
        c(DONE),
        c(YES + NO),
    ]


def _known_issue_fixed(rng: random.Random) -> list[str]:
    """A detractor whose known issue has a fix that helps, then re-rates."""
    return [
        rng.choice(GREETINGS),
        "2, nie wiem gdzie jest moja paczka",
        "tak, pomogło",
        "7",
        rng.choice(NO),
    ]


def _known_issue_not_fixed(rng: random.Random) -> list[str]:
    """A detractor whose known issue fix did not help."""
    return [rng.choice(GREETINGS), "3", "nie mogę się zalogować do aplikacji", "nie", "tak"]


def _interrupted(rng: random.Random) -> list[str]:
    """An interruption mid-survey, then a passive without complaints."""
    c = rng.choice
    return [c(GREETINGS), "czy jesteś botem?", c(PASSIVE_SCORES), "miła obsługa", c(IMPROVEMENTS)]


def _leaves(rng: random.Random) -> list[str]:
    """Leaves mid-survey."""
    return [rng.choice(GREETINGS), "5", "koniec"]


SHAPES: tuple[Shape, ...] = (
    _promoter,
    _passive_with_a_complaint,
    _detractor_with_whys,
    _known_issue_fixed,
    _known_issue_not_fixed,
    _interrupted,
    _leaves,
)


def conversation(kind: int, rng: random.Random) -> list[str]:
    """One whole survey of the ``kind``-th shape, with words drawn from ``rng``."""
    return SHAPES[kind % len(SHAPES)](rng)


def conversations(count: int, seed: int) -> list[list[str]]:
    """``count`` conversations, the shapes in turn; the same for the same seed."""
    rng = random.Random(seed)
    return [conversation(i, rng) for i in range(count)]
