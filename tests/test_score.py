"""parse_score: what a person reading the message would decide.

Each case: (text, status, score, remainder).  remainder=None means "not
checked in this case".  The labelled evaluation set in
data/eval/score_answers.yml (bench/score_accuracy.py) holds other, longer
realistic answers; this table is the specification of each rule.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import nps
from nps import score_words
from nps.score import SCORE_WINDOW, STATUSES, _parse, parse_score
from nps.text import fold

OK, OUT, AMB, SCHOOL, NONE = "ok", "out_of_range", "ambiguous", "school_grade", "none"

CASES = [
    # --- digits --------------------------------------------------------------
    ("8", OK, 8, ""),
    (" 8 ", OK, 8, ""),
    ("8.", OK, 8, ""),
    ("0", OK, 0, ""),
    ("10!!!", OK, 10, ""),
    ("10+", OK, 10, ""),
    # --- "out of ten", points ------------------------------------------------
    ("8/10", OK, 8, ""),
    ("8 / 10", OK, 8, ""),
    ("10/10", OK, 10, ""),
    ("8 na 10", OK, 8, ""),
    ("8 z 10", OK, 8, ""),
    ("8 pkt", OK, 8, ""),
    ("7 punktów na 10", OK, 7, ""),
    ("osiem na dziesięć", OK, 8, ""),
    ("dziewiec z dziesieciu", OK, 9, ""),
    ("na dziesięć", OK, 10, ""),
    # --- cue words -----------------------------------------------------------
    ("dałbym 7", OK, 7, ""),
    ("dalabym 6", OK, 6, ""),
    ("daję 9", OK, 9, ""),
    ("ocena: 6", OK, 6, ""),
    ("Moja ocena to 5", OK, 5, ""),
    ("oceniam na 4", OK, 4, ""),
    ("w skali od 0 do 10 daję 8", OK, 8, ""),
    # --- number words, with and without diacritics ---------------------------
    ("zero", OK, 0, ""),
    ("jeden", OK, 1, ""),
    ("jedna", OK, 1, ""),
    ("dwa", OK, 2, ""),
    ("trzy", OK, 3, ""),
    ("cztery", OK, 4, ""),
    ("pięć", OK, 5, ""),
    ("piec", OK, 5, ""),
    ("sześć", OK, 6, ""),
    ("szesc", OK, 6, ""),
    ("siedem", OK, 7, ""),
    ("osiem", OK, 8, ""),
    ("dziewięć", OK, 9, ""),
    ("dziewiec", OK, 9, ""),
    ("Dziesięć", OK, 10, ""),
    ("DZIESIEC", OK, 10, ""),
    # --- grade nouns ---------------------------------------------------------
    ("jedynka", OK, 1, ""),
    ("dwójka", OK, 2, ""),
    ("trójka", OK, 3, ""),
    ("czwórka", OK, 4, ""),
    ("piątka", OK, 5, ""),
    ("szóstka", OK, 6, ""),
    ("siódemka", OK, 7, ""),
    ("ósemka", OK, 8, ""),
    ("osemka", OK, 8, ""),
    ("dałbym ósemkę", OK, 8, ""),
    ("dziewiątka", OK, 9, ""),
    ("dziesiątka", OK, 10, ""),
    ("mocna siódemka", OK, 7, ""),
    # --- slang ---------------------------------------------------------------
    ("dycha", OK, 10, ""),
    ("no dychę daję", OK, 10, ""),
    ("max", OK, 10, ""),
    ("maks!", OK, 10, ""),
    ("full", OK, 10, ""),
    ("na maxa", OK, 10, ""),
    ("dałbym max", OK, 10, ""),
    ("max 2 dni czekałem", NONE, None, "max 2 dni czekałem"),  # max = "at most"
    ("full wypas", NONE, None, None),  # slang praise, no score
    ("za dyszkę kupiłem kubek", NONE, None, None),  # a 10 zł note
    # --- emoji digits --------------------------------------------------------
    ("🔟", OK, 10, ""),
    ("8️⃣", OK, 8, ""),
    ("1️⃣0️⃣", OK, 10, ""),
    # --- a score inside a sentence, a score and a reason ---------------------
    ("no myślę że tak z 8 bo szybko", OK, 8, "szybko"),
    ("3, bo kurier zgubił paczkę", OK, 3, "kurier zgubił paczkę"),
    # "nie wiem" is a filler only on its own; here it is the complaint itself
    ("2, nie wiem gdzie jest moja paczka", OK, 2, "nie wiem gdzie jest moja paczka"),
    ("8, nie wiem, chyba ceny", OK, 8, "chyba ceny"),
    ("10 - super obsługa", OK, 10, "super obsługa"),
    ("dałbym 9 bo ceny są ok", OK, 9, "ceny są ok"),
    ("Obsługa była świetna, więc 10", OK, 10, "Obsługa była świetna"),
    ("pięć, kurier się spóźnił", OK, 5, "kurier się spóźnił"),
    ("Szybka dostawa, daję 9, polecam", OK, 9, "Szybka dostawa, polecam"),
    ("10/10 polecam", OK, 10, "polecam"),
    ("zero, bo nikt nie odbiera telefonu", OK, 0, "nikt nie odbiera telefonu"),
    # --- numbers that are not the score --------------------------------------
    ("dałbym 8, paczka szła 3 dni", OK, 8, "paczka szła 3 dni"),
    ("2 razy zamawiałem i dałbym 9", OK, 9, "2 razy zamawiałem"),
    ("dostawa w 2 dni, 9", OK, 9, "dostawa w 2 dni"),
    ("2-3 dni czekałem, daję 7", OK, 7, "2-3 dni czekałem"),
    ("zamówienie nr 12345, ocena 7", OK, 7, "zamówienie nr 12345"),
    ("jedna paczka nie doszła, dałbym 4", OK, 4, "jedna paczka nie doszła"),
    ("zero problemów, dycha", OK, 10, "zero problemów"),
    ("czekałem 2 tygodnie", NONE, None, "czekałem 2 tygodnie"),
    ("zapłaciłem 50 zł za dostawę", NONE, None, None),
    ("na 100% polecę", NONE, None, None),  # percent is not the 0-10 scale
    ("dwie paczki przyszły uszkodzone", NONE, None, None),
    ("o 15:30 przyszła paczka, 6", OK, 6, "o 15:30 przyszła paczka"),
    # --- repeated same score -------------------------------------------------
    ("8, tak 8", OK, 8, ""),
    ("osiem, 8", OK, 8, ""),
    # --- out of range --------------------------------------------------------
    ("11", OUT, None, ""),
    ("15", OUT, None, ""),
    ("-1", OUT, None, ""),
    ("100", OUT, None, ""),
    ("dałbym 11 na 10", OUT, None, ""),
    ("jedenaście", OUT, None, ""),
    # --- ambiguous -----------------------------------------------------------
    ("7,5", AMB, None, ""),
    ("7.5", AMB, None, ""),
    ("7-8", AMB, None, ""),
    ("7 albo 8", AMB, None, ""),
    ("siedem lub osiem", AMB, None, ""),
    ("między 7 a 8", AMB, None, ""),
    ("7/8", AMB, None, ""),
    ("8, może 9", AMB, None, ""),
    ("siedem i pół", AMB, None, ""),
    ("5 bo dałbym 10 gdyby nie kurier", AMB, None, None),  # two cued scores
    ("9-10 bo szybko", AMB, None, "szybko"),
    # --- school grades (1-6): a verdict, not a 0-10 point; the bot asks ---------
    ("wszystko na piątkę", SCHOOL, None, ""),
    ("wszystko na piatke", SCHOOL, None, ""),
    ("obsługa na piątkę z plusem", SCHOOL, None, "obsługa"),
    ("na szóstkę", SCHOOL, None, ""),
    ("oceniam na szóstkę", SCHOOL, None, ""),
    ("na czwórkę", SCHOOL, None, ""),
    ("na dwójkę", SCHOOL, None, ""),
    ("wszystko na 5", SCHOOL, None, ""),
    ("wszystko było na 5", SCHOOL, None, "wszystko było"),
    ("piątka z plusem", SCHOOL, None, ""),
    ("szóstka z minusem", SCHOOL, None, ""),
    ("5+", SCHOOL, None, ""),
    ("6 z minusem", SCHOOL, None, ""),
    ("trzy plus", SCHOOL, None, ""),
    ("piątka z plusem albo szóstka", SCHOOL, None, ""),
    ("dwója", SCHOOL, None, ""),
    ("dwóję bym dał", SCHOOL, None, ""),
    ("dwoja, kurier się spóźnił", SCHOOL, None, "kurier się spóźnił"),
    ("trója", SCHOOL, None, ""),
    ("tróję", SCHOOL, None, ""),
    ("pała", SCHOOL, None, ""),
    ("pałę dostajecie", SCHOOL, None, ""),
    ("zasługujecie na pałę", SCHOOL, None, ""),
    ("lufa i tyle", SCHOOL, None, ""),
    ("kół", SCHOOL, None, ""),
    ("mierny", SCHOOL, None, ""),
    ("ocena mierna", SCHOOL, None, ""),
    ("celujący", SCHOOL, None, ""),
    ("celująco!", SCHOOL, None, ""),
    ("dostateczny", SCHOOL, None, ""),
    ("niedostateczny", SCHOOL, None, ""),
    ("bdb", SCHOOL, None, ""),
    # ... a 0-10 number in the same message wins, the verdict stays as text
    ("na piątkę z plusem, czyli 10", OK, 10, "na piątkę z plusem, czyli"),
    ("9, obsługa na szóstkę", OK, 9, "obsługa na szóstkę"),
    ("piątka z plusem, 9", OK, 9, "piątka z plusem"),
    ("na szóstkę, 10/10", OK, 10, "na szóstkę"),
    # ... beside a school verdict, "na 2" is a school mark too
    ("Na 5 z plusem obsługa, ale dostawa na 2", SCHOOL, None, None),
    ("wszystko na piątkę, dałbym 5", OK, 5, "wszystko na piątkę"),  # "dałbym 5" is 0-10
    # ... a bare grade noun or digit is the answer to "0-10?"
    ("piątka", OK, 5, ""),
    ("dałbym piątkę", OK, 5, ""),
    ("ocena: piątka", OK, 5, ""),
    ("szóstka!", OK, 6, ""),
    ("na 5", OK, 5, ""),
    ("oceniam na 5", OK, 5, ""),
    ("na trzy", OK, 3, ""),
    ("dwójka", OK, 2, ""),
    # ... and so is anything said beside a description of the 0-10 scale
    ("w skali 0-10 na piątkę", OK, 5, ""),
    # ... a plus on 7-10 is not school notation
    ("8+", OK, 8, ""),
    ("dycha z plusem", OK, 10, ""),
    ("dziesiątka z plusem", OK, 10, ""),
    # ... other senses of the slang are not marks
    ("robicie wszystko na pałę", NONE, None, None),
    ("na lufę", NONE, None, None),
    ("mierna obsługa i drogo", NONE, None, None),
    ("dwoje dzieci, a i tak zdążyłam", NONE, None, None),
    ("bardzo dobry sklep", NONE, None, None),
    ("koło 8", OK, 8, ""),  # "about 8", not the school "kół"
    # --- negation, approximation, corrections --------------------------------
    ("nie dam 10", AMB, None, ""),
    ("nie dałbym wam 10", AMB, None, ""),
    ("nie zasługujecie na 10", AMB, None, ""),
    ("na pewno nie 10", AMB, None, None),
    ("9, nie 10", OK, 9, ""),
    ("nie 9 tylko 10", OK, 10, ""),
    ("daję 10 i nie 9", OK, 10, ""),
    ("czemu nie 10", OK, 10, None),
    ("nie, 10", OK, 10, None),  # "no" answering something else, then the score
    ("nie wiem czy dałbym 10", OK, 10, None),
    ("prawie 10", AMB, None, ""),
    ("blisko 10", AMB, None, ""),
    ("ponad 8", AMB, None, ""),
    ("więcej niż 8", AMB, None, ""),
    ("mniej niż 5", AMB, None, ""),
    ("nie więcej niż 6", AMB, None, ""),
    ("nie do końca 10", AMB, None, ""),
    ("nie całe 10", AMB, None, ""),
    ("mniej więcej 8", OK, 8, ""),  # "roughly 8"
    ("max 8", OK, 8, None),  # the bound the customer commits to
    ("co najmniej 8", OK, 8, None),
    ("10, ale 9", AMB, None, ""),
    ("10, ale raczej 9", AMB, None, ""),
    ("10 ale 2 dni czekałem", OK, 10, "2 dni czekałem"),
    ("kiedyś 10, teraz 5", OK, 5, "kiedyś 10"),
    ("dałam 10 poprzednio, teraz 5", OK, 5, None),
    ("teraz 10, wcześniej 5", OK, 10, "wcześniej 5"),
    ("zero przecinek pięć", AMB, None, ""),
    ("pięć przecinek zero", OK, 5, ""),
    # --- scores of parts -------------------------------------------------------
    ("10 dla kuriera, 5 dla sklepu", AMB, None, None),
    ("10 za obsługę, 4 za dostawę", AMB, None, None),
    ("kupiłem 2 dla dzieci, dałbym 8", OK, 8, "kupiłem 2 dla dzieci"),
    ("dałbym 10 dla was", OK, 10, ""),
    # --- another scale -------------------------------------------------------
    ("5/5", OUT, None, ""),
    ("4 na 5", OUT, None, ""),
    ("3 z 5", OUT, None, ""),
    ("pięć na pięć", OUT, None, ""),
    ("80/100", OUT, None, ""),
    ("3 z 5 gwiazdek", OUT, None, ""),
    ("5 gwiazdek", OUT, None, ""),
    ("daję 5 gwiazdek", OUT, None, ""),
    ("hotel ma 5 gwiazdek", NONE, None, None),
    ("5 gwiazdek na 5", OUT, None, ""),
    # "N z M paczek" counts parcels: neither number is a score
    ("5 z 5 paczek doszło, 10", OK, 10, "5 z 5 paczek doszło"),
    ("dałbym 9, choć 1 z 5 paczek zaginęła", OK, 9, "choć 1 z 5 paczek zaginęła"),
    ("10 z 10 paczek doszło, 9", OK, 9, "10 z 10 paczek doszło"),
    ("dałbym 8 na 100%", OK, 8, None),
    ("na 10 możliwych dałbym 7", OK, 7, ""),
    ("8 z 10 możliwych", OK, 8, ""),
    # --- more spellings --------------------------------------------------------
    ("osiemka", OK, 8, ""),
    ("dziesiona!", OK, 10, ""),
    ("dziesionę daję", OK, 10, ""),
    ("0/10", OK, 0, ""),
    ("10 na 10", OK, 10, ""),
    ("daję 10!!!", OK, 10, ""),
    ("dyszka", OK, 10, ""),
    # --- nothing -------------------------------------------------------------
    ("nie wiem", NONE, None, "nie wiem"),
    ("dobrze", NONE, None, "dobrze"),
    ("", NONE, None, ""),
    ("   ", NONE, None, ""),
    ("tak", NONE, None, "tak"),
    ("👍", NONE, None, "👍"),
]


@pytest.mark.parametrize("text,status,score,remainder", CASES)
def test_parse_score(text, status, score, remainder):
    parsed = parse_score(text)
    assert (parsed.status, parsed.score) == (status, score), parsed
    if remainder is not None:
        assert parsed.remainder == remainder


def test_score_only_when_ok():
    for text, *_ in CASES:
        parsed = parse_score(text)
        assert parsed.status in STATUSES
        assert (parsed.score is not None) == (parsed.status == OK)
        if parsed.score is not None:
            assert 0 <= parsed.score <= 10
        # A school mark comes only with school_grade: it is never a score.
        assert parsed.mark is None or parsed.status == SCHOOL


@pytest.mark.parametrize(
    "text,mark",
    [
        ("wszystko na piątkę", 5),
        ("na szóstkę z plusem", 6),
        ("pała", 1),
        ("dwója", 2),
        ("trója", 3),
        ("czwórka z minusem", 4),
        ("celujący", 6),
        ("piątka z plusem albo szóstka", None),  # two marks: none is reported
    ],
)
def test_a_school_verdict_reports_its_mark(text, mark):
    # The mark says how good or bad the verdict was (its polarity for the
    # reason), never the 0-10 score.
    parsed = parse_score(text)
    assert (parsed.status, parsed.score, parsed.mark) == (SCHOOL, None, mark)


def test_hostile_input_does_not_crash():
    """Smoke test: odd or huge input returns a ScoreParse instead of raising."""
    for text in [
        "<script>alert(1)</script> 9",
        "\x00\x07 7",
        "'; DROP TABLE events; --",
        "🙂" * 1000,
        "1 " * 5000,
        "a" * 100_000,
        None,
    ]:
        parsed = parse_score(text)  # type: ignore[arg-type]
        assert parsed.status in {OK, OUT, AMB, NONE}


def test_remainder_keeps_the_original_spelling():
    # Matching ignores case and diacritics; the remainder is cut from the original.
    assert parse_score("DAŁBYM 9, ŚWIETNA OBSŁUGA").remainder == "ŚWIETNA OBSŁUGA"


def _vocabulary() -> dict[str, object]:
    return {name: table for name, table in vars(score_words).items() if name.isupper()}


@pytest.mark.parametrize("name", sorted(_vocabulary()))
def test_vocabulary_is_written_folded(name):
    # The parser compares folded tokens: an entry with a diacritic or an
    # upper-case letter ("ósemka", "Max") would never match anything.
    entries = [" ".join(e) if isinstance(e, tuple) else e for e in _vocabulary()[name]]
    assert [e for e in entries if fold(e) != e] == []


def test_a_word_listed_twice_in_one_table_is_refused():
    with pytest.raises(ValueError, match="bo"):
        score_words._table("bo ale bo")


# --- hostile input: numbers of any length, huge messages ------------------------

HOSTILE = [
    # (text, status): each is a clarification, never an exception
    ("9" * 309, OUT),  # past float's range: used to raise OverflowError
    ("dałbym " + "9" * 309, OUT),
    ("8\ufe0f\u20e3" * 309, OUT),  # keycap emoji digits fold to one long number
    ("8\ufe0f\u20e3" * 5000, OUT),
    ("9" * 5000 + ",5", OUT),  # past int()'s 4300-digit limit
    ("1," + "9" * 5000, NONE),  # a long decimal is not a score
    ("9" * 100_000, OUT),
    ("-" + "9" * 400, OUT),
    ("0" * 400 + "7", OK),  # leading zeros do not make a number long
    ("w skali 10 " * 20_000, NONE),  # 220 KB of scale descriptions
    ("a" * 200_000, NONE),
    ("\u202e8\u202c", OK),  # an RTL override around the score
    ("\x00\x1b\x07 7\r\n", OK),  # control characters
]


@pytest.mark.parametrize("text,status", HOSTILE, ids=lambda v: repr(v)[:30])
def test_hostile_numbers_and_sizes_get_a_status(text, status):
    parsed = parse_score(text)
    assert parsed.status == status, parsed.status
    assert (parsed.score is not None) == (status == OK)


def test_the_score_is_searched_in_the_window_and_the_rest_is_kept():
    story = "kurier zgubił paczkę, " * 60  # well past the window
    parsed = parse_score("3, bo " + story)
    assert (parsed.status, parsed.score) == (OK, 3)
    assert parsed.remainder == story.strip()
    # A score far past the window is not looked for: the bot asks again.
    late = parse_score("x " * SCORE_WINDOW + "dałbym 8")
    assert late.status == NONE and late.remainder == late.remainder.strip()


def operations(function: Callable[[str], object], text: str) -> int:
    """Python lines executed inside nps/ while running function(text).

    A deterministic measure of work (no clock): a quadratic step shows as
    a hundredfold count for a tenfold input, whatever else the machine runs.
    """
    package = str(Path(nps.__file__).parent)
    count = 0

    def trace(frame, event, arg):
        nonlocal count
        if not frame.f_code.co_filename.startswith(package):
            return None
        if event == "line":
            count += 1
        return trace

    sys.settrace(trace)
    try:
        function(text)
    finally:
        sys.settrace(None)
    return count


# Patterns that repeat every rule the parser has: scales, alternatives,
# units, cues, number words, emoji digits.
GROWTH_PATTERNS = [
    "w skali 10 ",
    "od 0 do 10, ",
    "8 albo 9 bo ",
    "dałbym 7 na 10, ",
    "2 dni 50 zł ",
    "osiem paczek ",
    "8\ufe0f\u20e3 🔟 ",
    "nie wiem, raczej ",
    "na piątkę z plusem ",
    "nie dałbym 10, teraz 5 ",
    "prawie 10 albo 5/5 ",
    "pała, dwója ",
]


@pytest.mark.parametrize("pattern", GROWTH_PATTERNS)
def test_the_parser_is_linear(pattern):
    small = operations(_parse, pattern * 20)
    large = operations(_parse, pattern * 200)
    assert large <= 13 * small, (small, large)  # 10x input; quadratic gives ~30-100x


def test_a_huge_message_costs_no_more_than_the_window():
    normal = operations(parse_score, "dałbym 7 " * (SCORE_WINDOW // 9))
    for pattern in GROWTH_PATTERNS:
        huge = operations(parse_score, pattern * 20_000)
        assert huge <= 2 * normal, (pattern, normal, huge)
